"""The CreateQuote request the benchmark sends: as a gRPC frame for h2load, and as real
calls that prove a server is up and answers it with a quote."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc

CREATE_QUOTE_PATH = "/lastmile.pricing.v1.PricingService/CreateQuote"
CALL_TIMEOUT_SECONDS = 2.0


def create_quote_request() -> pricing_pb2.CreateQuoteRequest:
    """A small standard parcel across Berlin-Mitte: valid terms, priced at 5.00 EUR."""
    return pricing_pb2.CreateQuoteRequest(
        terms=pricing_pb2.DeliveryTerms(
            pickup=geo_pb2.GeoPoint(latitude=52.5219, longitude=13.4132),
            dropoff=geo_pb2.GeoPoint(latitude=52.5319, longitude=13.4132),
            parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
            service_level=parcel_pb2.SERVICE_LEVEL_STANDARD,
        )
    )


def grpc_frame(message: bytes) -> bytes:
    """gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, body."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def quote_frame_length(port: int) -> int:
    """One real CreateQuote; raises unless it returns a signed, priced quote.

    Returns the size of the response's gRPC frame: every successful call of the load
    gets one frame of that size, which is how failures hidden behind HTTP 200 show.
    """
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            create_quote_request(), timeout=CALL_TIMEOUT_SECONDS
        )
    quote = reply.quote
    if not quote.quote_id or quote.price.amount_minor <= 0:
        raise RuntimeError(f"CreateQuote on port {port} returned no priced quote: {reply}")
    return len(grpc_frame(reply.SerializeToString()))


def answers_create_quote(port: int) -> bool:
    """Readiness of the bare server, which has no health service."""
    try:
        quote_frame_length(port)
    except grpc.RpcError:
        return False
    return True


def reports_serving(port: int, service: str = "") -> bool:
    """Readiness of a ServiceHost: the standard health service says SERVING (for the
    whole server, or for one proto service)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
