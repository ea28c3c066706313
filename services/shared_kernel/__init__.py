"""The shared kernel: value objects that several bounded contexts agree on (money,
geo points, parcels, stops). Pure Python: no gRPC, protobuf, SQL or broker imports."""
