"""fleet's adapters: PostgreSQL, orders over gRPC, NATS positions, the Link to dispatch."""
