"""dispatch's domain: couriers and their spatial index, pending deliveries and the queue,
offers and their terms. Pure Python: no gRPC, protobuf, SQL or broker imports."""
