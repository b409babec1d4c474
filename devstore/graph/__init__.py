"""GraphQL Admin API emulation: schema, resolvers, cost and bulk operations."""
