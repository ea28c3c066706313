"""tracking's ports over orders' gRPC API and NATS JetStream."""
