"""orders' domain: the delivery aggregate and its state machine, delivery requests,
idempotency records and domain events. No gRPC, protobuf, SQL or broker imports."""
