"""pricing's use cases: quote a delivery, publish the keys that verify quotes, and verify a
quote presented later (the deprecated VerifyQuote; orders verifies with the keys itself)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.pricing.domain.quote import Quote, QuoteExpired, QuoteInvalid
from services.pricing.domain.tariff import Tariff
from services.pricing.domain.terms import DeliveryTerms
from services.pricing.service_layer.ports import (
    PublicQuoteKey,
    QuoteClaims,
    QuoteSigner,
    SignatureInvalid,
)
from services.shared_kernel.regions import Regions, shipped_regions

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class CreateQuote:
    """Price these terms."""

    terms: DeliveryTerms


@dataclass(frozen=True, slots=True)
class VerifyQuote:
    """Confirm that `quote_id` was issued for `terms` and is still valid."""

    quote_id: str
    terms: DeliveryTerms


@dataclass(frozen=True)
class QuoteHandlers:
    """The pricing use cases over a tariff, a signer and a clock."""

    tariff: Tariff
    signer: QuoteSigner
    clock: Clock
    validity: timedelta = timedelta(minutes=15)
    regions: Regions = field(default_factory=shipped_regions)

    def create_quote(self, command: CreateQuote) -> Quote:
        pickup = command.terms.pickup
        self.regions.region_of_pickup("terms.pickup", pickup.latitude, pickup.longitude)
        pricing = self.tariff.price(command.terms)
        # Whole seconds, so that the signed claims and the reply agree exactly.
        created = self.clock().replace(microsecond=0)
        claims = QuoteClaims(
            terms_fingerprint=command.terms.fingerprint(),
            price=pricing.total,
            breakdown=pricing.lines,
            distance_meters=pricing.distance_meters,
            created_at=created,
            expires_at=created + self.validity,
        )
        return self._quote(self.signer.sign(claims), command.terms, claims)

    def list_quote_keys(self) -> list[PublicQuoteKey]:
        return self.signer.public_keys()

    def verify_quote(self, command: VerifyQuote) -> Quote:
        try:
            claims = self.signer.open(command.quote_id)
        except SignatureInvalid as invalid:
            raise QuoteInvalid("was not issued by pricing or has been altered") from invalid
        if claims.terms_fingerprint != command.terms.fingerprint():
            raise QuoteInvalid("was issued for different delivery terms")
        quote = self._quote(command.quote_id, command.terms, claims)
        if quote.is_expired(self.clock()):
            raise QuoteExpired(quote.expires_at)
        return quote

    @staticmethod
    def _quote(quote_id: str, terms: DeliveryTerms, claims: QuoteClaims) -> Quote:
        return Quote(
            quote_id=quote_id,
            terms=terms,
            price=claims.price,
            breakdown=claims.breakdown,
            distance_meters=claims.distance_meters,
            created_at=claims.created_at,
            expires_at=claims.expires_at,
        )
