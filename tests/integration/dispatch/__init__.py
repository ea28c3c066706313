"""dispatch on a real PostgreSQL and NATS, with a real orders and a faked fleet."""
