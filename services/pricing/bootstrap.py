"""The one place where pricing is wired; tests pass fakes for any keyword."""

from __future__ import annotations

from datetime import timedelta

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.config import PricingSettings
from services.pricing.domain.tariff import Tariff
from services.pricing.entrypoints.grpc_servicers import PricingInternalServicer, PricingServicer
from services.pricing.service_layer.handlers import Clock, QuoteHandlers
from services.pricing.service_layer.ports import QuoteSigner
from services.runtime.clock import system_clock
from services.runtime.server import ServiceBinding, ServiceHost


def bootstrap(
    settings: PricingSettings,
    *,
    tariff: Tariff | None = None,
    signer: QuoteSigner | None = None,
    clock: Clock = system_clock,
) -> ServiceHost:
    handlers = QuoteHandlers(
        tariff=tariff or Tariff(currency=settings.currency),
        signer=signer or JwtQuoteSigner(settings.quote_signing_key.get_secret_value()),
        clock=clock,
        validity=timedelta(seconds=settings.quote_validity_seconds),
    )
    services = pricing_pb2.DESCRIPTOR.services_by_name
    return ServiceHost(
        settings,
        bindings=[
            ServiceBinding(
                services["PricingService"].full_name,
                PricingServicer(handlers),
                pricing_pb2_grpc.add_PricingServiceServicer_to_server,
            ),
            ServiceBinding(
                services["PricingInternalService"].full_name,
                PricingInternalServicer(handlers),
                pricing_pb2_grpc.add_PricingInternalServiceServicer_to_server,
            ),
        ],
    )
