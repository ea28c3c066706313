"""The shared kernel: value objects that several bounded contexts agree on (money,
geo points, parcels, stops) and the service regions. Pure Python: no gRPC, protobuf, SQL
or broker imports."""
