"""HTTP clients of the platform's microservices (services.md), their circuit breakers, and a simulator.

Nothing here knows about GraphQL or the database: `clients.ServiceClients` answers "what does
this service say about these students", with a status per student.
"""
