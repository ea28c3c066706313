"""Quote use cases with a fake signer and a fixed clock."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest

from services.pricing.domain.quote import QuoteExpired, QuoteInvalid
from services.pricing.domain.tariff import PriceComponent, PriceLine, Tariff
from services.pricing.domain.terms import DeliveryTerms
from services.pricing.service_layer.handlers import CreateQuote, QuoteHandlers, VerifyQuote
from services.pricing.service_layer.ports import (
    PublicQuoteKey,
    QuoteClaims,
    QuoteSigner,
    SignatureInvalid,
)
from services.runtime.errors import InvalidArgument
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel

NOW = datetime(2026, 11, 29, 12, 0, 0, 500_000, tzinfo=UTC)
TERMS = DeliveryTerms(
    GeoPoint(52.52, 13.40), GeoPoint(52.50, 13.45), Parcel(ParcelSize.MEDIUM, 2000),
    ServiceLevel.STANDARD,
)  # fmt: skip


class FakeSigner(QuoteSigner):
    """Readable 'signatures': the claims as JSON behind a marker it checks."""

    def sign(self, claims: QuoteClaims) -> str:
        body = asdict(claims)
        return "signed:" + json.dumps(body, default=str)

    def open(self, quote_id: str) -> QuoteClaims:
        if not quote_id.startswith("signed:"):
            raise SignatureInvalid("not ours")
        body = json.loads(quote_id.removeprefix("signed:"))
        return QuoteClaims(
            terms_fingerprint=body["terms_fingerprint"],
            price=Money(**body["price"]),
            breakdown=tuple(
                PriceLine(PriceComponent(line["component"]), Money(**line["amount"]))
                for line in body["breakdown"]
            ),
            distance_meters=body["distance_meters"],
            created_at=datetime.fromisoformat(body["created_at"]),
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )

    def public_keys(self) -> list[PublicQuoteKey]:
        return [PublicQuoteKey("fake", "none", "", active=True)]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def handlers(clock: Clock) -> QuoteHandlers:
    return QuoteHandlers(Tariff(), FakeSigner(), clock, validity=timedelta(minutes=15))


def test_a_quote_prices_the_terms_and_expires_after_the_validity() -> None:
    quote = handlers(Clock()).create_quote(CreateQuote(TERMS))
    assert quote.price == Tariff().price(TERMS).total
    assert quote.created_at == NOW.replace(microsecond=0)
    assert quote.expires_at == quote.created_at + timedelta(minutes=15)


def test_a_quote_verifies_for_the_same_terms_before_it_expires() -> None:
    clock = Clock()
    quote = handlers(clock).create_quote(CreateQuote(TERMS))
    clock.now += timedelta(minutes=14)
    assert handlers(clock).verify_quote(VerifyQuote(quote.quote_id, TERMS)) == quote


def test_an_expired_quote_is_refused_as_expired() -> None:
    clock = Clock()
    quote = handlers(clock).create_quote(CreateQuote(TERMS))
    clock.now += timedelta(minutes=16)
    with pytest.raises(QuoteExpired) as refused:
        handlers(clock).verify_quote(VerifyQuote(quote.quote_id, TERMS))
    assert refused.value.reason == "QUOTE_EXPIRED"


def test_a_quote_used_for_other_terms_is_invalid() -> None:
    clock = Clock()
    quote = handlers(clock).create_quote(CreateQuote(TERMS))
    heavier = DeliveryTerms(
        TERMS.pickup, TERMS.dropoff, Parcel(ParcelSize.MEDIUM, 9000), TERMS.service_level
    )
    with pytest.raises(QuoteInvalid) as refused:
        handlers(clock).verify_quote(VerifyQuote(quote.quote_id, heavier))
    assert refused.value.reason == "QUOTE_INVALID"
    assert [v.field for v in refused.value.violations] == ["quote_id"]


def test_a_forged_quote_is_invalid() -> None:
    with pytest.raises(QuoteInvalid):
        handlers(Clock()).verify_quote(VerifyQuote("made-up", TERMS))


def test_no_quote_is_made_for_a_pickup_outside_every_region() -> None:
    vienna = replace(TERMS, pickup=GeoPoint(48.2082, 16.3738))
    with pytest.raises(InvalidArgument) as refused:
        handlers(Clock()).create_quote(CreateQuote(vienna))
    assert refused.value.reason == "OUT_OF_SERVICE_AREA"
    assert [v.field for v in refused.value.violations] == ["terms.pickup"]


def test_the_dropoff_alone_may_lie_outside_every_region() -> None:
    # The region is the pickup's: from Frankfurt (Oder) to a village in Poland beyond it.
    across = replace(TERMS, pickup=GeoPoint(52.3471, 14.5506), dropoff=GeoPoint(52.35, 15.3))
    quote = handlers(Clock()).create_quote(CreateQuote(across))
    assert quote.price == Tariff().price(across).total
