"""The pricing port over pricing's gRPC API: fresh quotes with CreateQuote, each call with a
deadline and pricing's failures turned back into domain errors with orders' own field paths;
presented quotes verified in orders with pricing's public keys (signed_quotes.py)."""

from __future__ import annotations

from datetime import timedelta

import grpc

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.contracts import common_v1
from services.orders.adapters.pricing_quote_keys import LIST_QUOTE_KEYS
from services.orders.adapters.signed_quotes import SignedQuotes
from services.orders.domain.quote import Quote
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.ports import Pricing
from services.runtime.errors import (
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Unavailable,
)
from services.runtime.status import domain_error_from

CREATE_QUOTE = "/lastmile.pricing.v1.PricingService/CreateQuote"
# Quoting is a pure function of the terms and the keys are a read: both are safe to retry.
IDEMPOTENT_METHODS = (CREATE_QUOTE, LIST_QUOTE_KEYS)
# pricing's terms paths -> where the same fields sit in a CreateDeliveryRequest.
_FIELD_PATHS = (
    ("terms.pickup", "delivery.pickup.point"),
    ("terms.dropoff", "delivery.dropoff.point"),
    ("terms.", "delivery."),
)


class GrpcPricing(Pricing):
    """CreateQuote on PricingService; presented quotes checked by `signed_quotes`."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        deadline_seconds: float,
        signed_quotes: SignedQuotes,
    ) -> None:
        self._public = pricing_pb2_grpc.PricingServiceStub(channel)
        self._deadline = deadline_seconds
        self._signed_quotes = signed_quotes

    async def verify(self, quote_id: str, request: DeliveryRequest) -> Quote:
        return await self._signed_quotes.verify(quote_id, request)

    async def quote(self, request: DeliveryRequest) -> Quote:
        try:
            reply = await self._public.CreateQuote(
                pricing_pb2.CreateQuoteRequest(terms=_terms(request)), timeout=self._deadline
            )
        except grpc.aio.AioRpcError as failure:
            raise _domain_error(failure) from failure
        return _quote(reply.quote)


def _terms(request: DeliveryRequest) -> pricing_pb2.DeliveryTerms:
    return pricing_pb2.DeliveryTerms(
        pickup=common_v1.point_message(request.pickup.point),
        dropoff=common_v1.point_message(request.dropoff.point),
        parcel=common_v1.parcel_message(request.parcel),
        service_level=common_v1.service_level_value(request.service_level),
    )


def _quote(message: pricing_pb2.Quote) -> Quote:
    return Quote(
        quote_id=message.quote_id,
        price=common_v1.read_money(message.price),
        expires_at=common_v1.read_timestamp(message.expire_time),
    )


def _domain_error(failure: grpc.aio.AioRpcError) -> DomainError:
    """What the client should see: pricing's verdict on the terms, or UNAVAILABLE for
    anything that is pricing's trouble rather than the request's."""
    error = domain_error_from(failure)
    if isinstance(error, InvalidArgument):
        return InvalidArgument(
            [FieldViolation(_field_path(v.field), v.description) for v in error.violations],
            reason=error.reason,
        )
    if isinstance(error, FailedPrecondition):
        return error
    return Unavailable(
        f"pricing did not answer ({failure.code().name}); retry with the same idempotency key",
        retry_after=timedelta(seconds=1),
    )


def _field_path(path: str) -> str:
    for prefix, replacement in _FIELD_PATHS:
        if path.startswith(prefix):
            return replacement + path.removeprefix(prefix)
    return path
