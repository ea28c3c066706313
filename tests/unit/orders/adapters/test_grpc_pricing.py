"""The pricing adapter against the real pricing servicers in process: honoured quotes, and
expired and forged ones refused, pricing's field paths in orders' terms, and pricing being away.
Quotes are verified in orders with pricing's keys, so the clock that expires them is orders'
(here one clock for both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from services.orders.adapters.grpc_pricing import GrpcPricing
from services.orders.adapters.pricing_quote_keys import PricingQuoteKeys
from services.orders.adapters.signed_quotes import SignedQuotes
from services.orders.domain.quote import QuoteExpired, QuoteInvalid
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.runtime.errors import InvalidArgument, Unavailable
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ParcelSize
from tests.servers import free_port, serving
from tests.unit.orders.examples import DROPOFF, request_with


class Clock:
    """pricing's and orders' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def pricing(clock: Clock) -> AsyncIterator[GrpcPricing]:
    host = bootstrap(PricingSettings(grpc_port=0, admin_port=-1), clock=clock)
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        keys = PricingQuoteKeys(channel, deadline_seconds=2)
        yield GrpcPricing(channel, deadline_seconds=2, signed_quotes=SignedQuotes(keys, clock))


async def test_a_fresh_quote_is_verified_until_it_expires(
    pricing: GrpcPricing, clock: Clock
) -> None:
    quote = await pricing.quote(request_with())
    assert (quote.price.amount_minor, quote.price.currency) == (500, "EUR")
    assert await pricing.verify(quote.quote_id, request_with()) == quote
    clock.now += timedelta(minutes=16)
    with pytest.raises(QuoteExpired) as expired:
        await pricing.verify(quote.quote_id, request_with())
    assert expired.value.reason == "QUOTE_EXPIRED"
    assert expired.value.metadata == {"expire_time": quote.expires_at.isoformat()}
    assert quote.expires_at.isoformat() in expired.value.message


@pytest.mark.parametrize(
    ("quote_id", "why"),
    [
        ("forged", "was not issued by pricing or has been altered"),
        (None, "was issued for different delivery terms"),
    ],
    ids=["forged", "other-terms"],
)
async def test_forged_quotes_and_quotes_for_other_terms_are_invalid_at_orders_field_path(
    pricing: GrpcPricing, quote_id: str | None, why: str
) -> None:
    quote = await pricing.quote(request_with())
    heavier = request_with(parcel=Parcel(ParcelSize.SMALL, 9000))
    with pytest.raises(QuoteInvalid) as invalid:
        await pricing.verify(quote_id or quote.quote_id, heavier)
    assert invalid.value.reason == "QUOTE_INVALID"
    [violation] = invalid.value.violations
    assert violation.field == "delivery.quote_id"
    assert violation.description.startswith(why)


async def test_out_of_area_is_reported_at_orders_field_path(pricing: GrpcPricing) -> None:
    munich = request_with(dropoff=replace(DROPOFF, point=GeoPoint(48.137, 11.575)))
    with pytest.raises(InvalidArgument) as invalid:
        await pricing.quote(munich)
    assert invalid.value.reason == "OUT_OF_SERVICE_AREA"
    assert [v.field for v in invalid.value.violations] == ["delivery.dropoff.point"]


async def test_pricing_that_does_not_answer_is_unavailable() -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as nobody:
        keys = PricingQuoteKeys(nobody, deadline_seconds=0.2)
        absent = GrpcPricing(
            nobody, deadline_seconds=0.2, signed_quotes=SignedQuotes(keys, Clock())
        )
        with pytest.raises(Unavailable) as unavailable:
            await absent.quote(request_with())
    assert unavailable.value.reason == "UPSTREAM_UNAVAILABLE"
    assert "retry with the same idempotency key" in unavailable.value.message
