"""Who is calling, without GraphQL or SQL: the signed-in user, access and refresh tokens, password hashes."""
