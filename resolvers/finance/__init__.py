"""Student finance (../shared/contract/finance.graphql): fees and invoices, payments and refunds,
scholarships, reminders and analytics, all posting to the ledger of resolvers/ledger.py."""
