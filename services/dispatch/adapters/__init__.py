"""dispatch's adapters: PostgreSQL (queue, inbox, leader lock), NATS, orders over gRPC,
and the protobuf forms of Link messages and delivery events."""
