"""Domain events through NATS JetStream: the protobuf envelope, the transactional outbox
and its relay on the producing side, durable idempotent consumers on the other."""
