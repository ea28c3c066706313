"""Which calls are safe to send twice, for the edge's and the sidecars' retry policies: the
methods idempotent by design, and the metadata that carries a client's idempotency key."""

from __future__ import annotations

# Safe to send twice: a pure function (quotes are signed, not stored), a read (pricing's
# public quote keys), or a conditional state transition that answers the same way when it
# has already happened.
IDEMPOTENT_METHODS = frozenset(
    {
        "lastmile.pricing.v1.PricingService/CreateQuote",
        "lastmile.pricing.v1.PricingInternalService/VerifyQuote",
        "lastmile.pricing.v1.PricingInternalService/ListQuoteKeys",
        "lastmile.orders.v1.OrdersService/GetDelivery",
        "lastmile.orders.v1.OrdersInternalService/AssignCourier",
        "lastmile.orders.v1.OrdersInternalService/MarkPickedUp",
        "lastmile.orders.v1.OrdersInternalService/MarkDelivered",
        "lastmile.fleet.v1.FleetInternalService/GetCourier",
    }
)

# A method whose request message has this field honours an idempotency key: the same key
# returns what the first call did. Over REST the key is the `Idempotency-Key` header, over
# gRPC the field or this metadata (which is what the edge can see: it never reads bodies).
IDEMPOTENCY_KEY_FIELD = "idempotency_key"
IDEMPOTENCY_KEY_HEADER = "idempotency-key"
