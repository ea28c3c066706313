"""The public PricingService and the mesh-only PricingInternalService."""

from __future__ import annotations

from datetime import timedelta

from google.protobuf import duration_pb2

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.pricing.entrypoints.proto_mapping import (
    quote_key_message,
    quote_message,
    read_terms,
)
from services.pricing.service_layer.handlers import CreateQuote, QuoteHandlers, VerifyQuote
from services.runtime.grpc_types import ServicerContext


class PricingServicer(pricing_pb2_grpc.PricingServiceServicer):
    """Quotes deliveries for anyone; no identity needed."""

    def __init__(self, handlers: QuoteHandlers) -> None:
        self._handlers = handlers

    async def CreateQuote(
        self, request: pricing_pb2.CreateQuoteRequest, context: ServicerContext
    ) -> pricing_pb2.CreateQuoteResponse:
        quote = self._handlers.create_quote(CreateQuote(read_terms(request.terms)))
        return pricing_pb2.CreateQuoteResponse(quote=quote_message(quote))


class PricingInternalServicer(pricing_pb2_grpc.PricingInternalServiceServicer):
    """Gives orders the public keys to confirm a quote a client presented (and still
    confirms one itself, for callers of the deprecated VerifyQuote)."""

    def __init__(self, handlers: QuoteHandlers, *, keys_max_age: timedelta) -> None:
        self._handlers = handlers
        self._max_age = duration_pb2.Duration()
        self._max_age.FromTimedelta(keys_max_age)

    async def ListQuoteKeys(
        self, request: pricing_pb2.ListQuoteKeysRequest, context: ServicerContext
    ) -> pricing_pb2.ListQuoteKeysResponse:
        keys = [quote_key_message(key) for key in self._handlers.list_quote_keys()]
        return pricing_pb2.ListQuoteKeysResponse(keys=keys, max_age=self._max_age)

    async def VerifyQuote(
        self, request: pricing_pb2.VerifyQuoteRequest, context: ServicerContext
    ) -> pricing_pb2.VerifyQuoteResponse:
        terms = read_terms(request.terms)
        quote = self._handlers.verify_quote(VerifyQuote(request.quote_id, terms))
        return pricing_pb2.VerifyQuoteResponse(quote=quote_message(quote))
