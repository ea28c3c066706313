"""fleet's domain: couriers, what they hold, and the pure rules of sessions and pings.
Imports nothing from gRPC, protobuf, SQL or the broker."""
