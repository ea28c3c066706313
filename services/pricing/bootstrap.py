"""The one place where pricing is wired; tests pass fakes for any keyword."""

from __future__ import annotations

import logging
from datetime import timedelta

from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.adapters.quote_key_ring import QuoteKeyRing, QuoteKeysUnusable
from services.pricing.config import PricingSettings
from services.pricing.domain.tariff import Tariff
from services.pricing.entrypoints.grpc_servicers import PricingInternalServicer, PricingServicer
from services.pricing.service_layer.handlers import Clock, QuoteHandlers
from services.pricing.service_layer.ports import QuoteSigner
from services.runtime.clock import system_clock
from services.runtime.config import ConfigurationError
from services.runtime.server import ServiceBinding, ServiceHost
from services.shared_kernel.regions import load_regions

_log = logging.getLogger(__name__)


def bootstrap(
    settings: PricingSettings,
    *,
    tariff: Tariff | None = None,
    signer: QuoteSigner | None = None,
    clock: Clock = system_clock,
) -> ServiceHost:
    handlers = QuoteHandlers(
        tariff=tariff or Tariff(currency=settings.currency),
        signer=signer or JwtQuoteSigner(_quote_keys(settings)),
        clock=clock,
        validity=timedelta(seconds=settings.quote_validity_seconds),
        regions=load_regions(settings.regions_file),
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
                PricingInternalServicer(
                    handlers, keys_max_age=timedelta(seconds=settings.quote_keys_max_age_seconds)
                ),
                pricing_pb2_grpc.add_PricingInternalServiceServicer_to_server,
            ),
        ],
    )


def _quote_keys(settings: PricingSettings) -> QuoteKeyRing:
    if settings.quote_keys_file is None:
        # Development only (production refuses an unset file): quotes of this process are
        # honoured by whoever asks this process for its keys, until it restarts.
        _log.warning("no LASTMILE_PRICING_QUOTE_KEYS_FILE: signing quotes with a generated key")
        return QuoteKeyRing.ephemeral()
    try:
        return QuoteKeyRing.from_file(settings.quote_keys_file)
    except QuoteKeysUnusable as unusable:
        raise ConfigurationError(
            f"invalid configuration for pricing:\n  LASTMILE_PRICING_QUOTE_KEYS_FILE: {unusable}"
        ) from None
