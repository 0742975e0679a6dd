"""What the API does, one module per domain: GraphQL-agnostic async functions."""
