"""Quotes verified in orders with the keys the real pricing (in process, port 0) publishes:
valid, tampered, signed with another key, expired; a kid orders does not know is fetched once,
then rate-limited; a rotation with two keys; and pricing going away, with and without keys."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from services.orders.adapters.pricing_quote_keys import PricingQuoteKeys
from services.orders.adapters.signed_quotes import SignedQuotes
from services.orders.domain.quote import Quote, QuoteExpired, QuoteInvalid
from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.adapters.quote_key_ring import QuoteKeyRing, generate_pem
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.pricing.domain.tariff import Tariff
from services.pricing.domain.terms import DeliveryTerms
from services.pricing.service_layer.handlers import CreateQuote, QuoteHandlers
from services.pricing.service_layer.ports import PublicQuoteKey
from services.runtime.errors import Unavailable
from services.shared_kernel.parcel import Parcel, ParcelSize
from tests.servers import free_port, serving
from tests.unit.orders.examples import REQUEST, request_with

KEY, NEXT_KEY, STRANGER_KEY = generate_pem(), generate_pem(), generate_pem()
MIN_REFRESH_SECONDS = 5.0


class Clock:
    """The wall clock of pricing and orders, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Monotonic:
    """orders' monotonic clock, which paces early key fetches; moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingSigner(JwtQuoteSigner):
    """The real signer, counting how often pricing was asked for its keys."""

    def __init__(self, keys: QuoteKeyRing) -> None:
        super().__init__(keys)
        self.listed = 0
        self.listed_thrice = asyncio.Event()

    def public_keys(self) -> list[PublicQuoteKey]:
        self.listed += 1
        if self.listed >= 3:
            self.listed_thrice.set()
        return super().public_keys()


TERMS = DeliveryTerms(
    REQUEST.pickup.point, REQUEST.dropoff.point, REQUEST.parcel, REQUEST.service_level
)


def quote_id(bundle: bytes, clock: Clock) -> str:
    """A quote id for REQUEST's terms, signed as pricing signs it with `bundle`'s first key."""
    handlers = QuoteHandlers(Tariff(), JwtQuoteSigner(QuoteKeyRing.from_pem(bundle)), clock)
    return handlers.create_quote(CreateQuote(TERMS)).quote_id


class Pricing:
    """A real pricing serving one key bundle on a fixed port, started and stopped at will."""

    def __init__(self, clock: Clock) -> None:
        self.port = free_port()
        self.clock = clock
        self.signer: CountingSigner | None = None

    def serving(self, bundle: bytes) -> AbstractAsyncContextManager[str]:
        self.signer = CountingSigner(QuoteKeyRing.from_pem(bundle))
        settings = PricingSettings(grpc_port=self.port, admin_port=-1)
        return serving(bootstrap(settings, signer=self.signer, clock=self.clock))

    @property
    def listed(self) -> int:
        assert self.signer is not None
        return self.signer.listed


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def pricing(clock: Clock) -> Pricing:
    return Pricing(clock)


@pytest.fixture
async def channel(pricing: Pricing) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{pricing.port}") as opened:
        yield opened


@pytest.fixture
def quotes(channel: grpc.aio.Channel, clock: Clock, monotonic: Monotonic) -> SignedQuotes:
    keys = PricingQuoteKeys(
        channel,
        deadline_seconds=1,
        min_refresh_seconds=MIN_REFRESH_SECONDS,
        monotonic=monotonic,
    )
    return SignedQuotes(keys, clock)


def _why(invalid: pytest.ExceptionInfo[QuoteInvalid]) -> str:
    assert invalid.value.reason == "QUOTE_INVALID"
    [violation] = invalid.value.violations
    assert violation.field == "delivery.quote_id"
    return violation.description


async def test_a_valid_quote_is_honoured_at_its_signed_price(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    presented = quote_id(KEY, clock)
    async with pricing.serving(KEY):
        quote = await quotes.verify(presented, REQUEST)
    assert quote == Quote(presented, quote.price, clock.now + timedelta(minutes=15))
    assert (quote.price.amount_minor, quote.price.currency) == (500, "EUR")


async def test_a_tampered_payload_is_invalid(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    header, payload, signature = quote_id(KEY, clock).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["amt"] = 1
    cheaper = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    async with pricing.serving(KEY):
        with pytest.raises(QuoteInvalid) as invalid:
            await quotes.verify(f"{header}.{cheaper}.{signature}", REQUEST)
    assert _why(invalid).startswith("was not issued by pricing or has been altered")


async def test_a_quote_naming_pricings_kid_but_signed_with_another_key_is_invalid(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    header, payload, _ = quote_id(KEY, clock).split(".")
    foreign_signature = quote_id(STRANGER_KEY, clock).split(".")[2]
    async with pricing.serving(KEY):
        with pytest.raises(QuoteInvalid) as invalid:
            await quotes.verify(f"{header}.{payload}.{foreign_signature}", REQUEST)
    assert _why(invalid).startswith("was not issued by pricing or has been altered")


@pytest.mark.parametrize(
    "garbage", ["not-a-quote", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.AAAA"]
)
async def test_a_malformed_quote_is_invalid_without_asking_pricing(
    pricing: Pricing, quotes: SignedQuotes, garbage: str
) -> None:
    async with pricing.serving(KEY):
        with pytest.raises(QuoteInvalid) as invalid:
            await quotes.verify(garbage, REQUEST)
        assert pricing.listed == 0
    assert _why(invalid).startswith("was not issued by pricing or has been altered")


async def test_a_quote_for_other_terms_is_invalid(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    presented = quote_id(KEY, clock)
    async with pricing.serving(KEY):
        with pytest.raises(QuoteInvalid) as invalid:
            await quotes.verify(presented, request_with(parcel=Parcel(ParcelSize.SMALL, 9000)))
    assert _why(invalid).startswith("was issued for different delivery terms")


async def test_an_expired_quote_is_refused_as_expired_by_orders_clock(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    presented = quote_id(KEY, clock)
    expiry = clock.now + timedelta(minutes=15)
    async with pricing.serving(KEY):
        clock.now = expiry
        with pytest.raises(QuoteExpired) as expired:
            await quotes.verify(presented, REQUEST)
    assert expired.value.reason == "QUOTE_EXPIRED"
    assert expired.value.metadata == {"expire_time": expiry.isoformat()}


async def test_an_unknown_kid_is_fetched_once_then_refused_until_the_rate_limit_allows(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock, monotonic: Monotonic
) -> None:
    forged = quote_id(STRANGER_KEY, clock)
    async with pricing.serving(KEY):
        await quotes.verify(quote_id(KEY, clock), REQUEST)
        assert pricing.listed == 1
        monotonic.now += MIN_REFRESH_SECONDS
        for _ in range(50):
            with pytest.raises(QuoteInvalid) as invalid:
                await quotes.verify(forged, REQUEST)
        assert pricing.listed == 2
        monotonic.now += MIN_REFRESH_SECONDS
        with pytest.raises(QuoteInvalid):
            await quotes.verify(forged, REQUEST)
        assert pricing.listed == 3
    assert "signed with a key pricing does not publish" in _why(invalid)


async def test_a_new_kid_after_a_rotation_is_learnt_and_the_previous_key_still_verifies(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock, monotonic: Monotonic
) -> None:
    before = quote_id(KEY, clock)
    async with pricing.serving(KEY):
        await quotes.verify(before, REQUEST)
    monotonic.now += MIN_REFRESH_SECONDS
    # pricing restarts with the next key first (it signs) and the previous one after it.
    async with pricing.serving(NEXT_KEY + KEY):
        after = quote_id(NEXT_KEY + KEY, clock)
        assert (await quotes.verify(after, REQUEST)).quote_id == after
        assert (await quotes.verify(before, REQUEST)).quote_id == before
        assert pricing.listed == 1


async def test_with_its_keys_cached_orders_honours_quotes_while_pricing_is_down(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock, monotonic: Monotonic
) -> None:
    presented = quote_id(KEY, clock)
    async with pricing.serving(KEY):
        await quotes.verify(presented, REQUEST)
    monotonic.now += MIN_REFRESH_SECONDS
    assert (await quotes.verify(presented, REQUEST)).quote_id == presented
    # A kid it does not know cannot be decided while pricing is away: retry, not refused.
    with pytest.raises(Unavailable) as unavailable:
        await quotes.verify(quote_id(STRANGER_KEY, clock), REQUEST)
    assert unavailable.value.reason == "UPSTREAM_UNAVAILABLE"


async def test_without_keys_and_without_pricing_a_quote_is_unavailable_not_refused(
    quotes: SignedQuotes, clock: Clock
) -> None:
    with pytest.raises(Unavailable) as unavailable:
        await quotes.verify(quote_id(KEY, clock), REQUEST)
    assert unavailable.value.reason == "UPSTREAM_UNAVAILABLE"
    assert unavailable.value.retry_after == timedelta(seconds=1)
    assert "retry with the same idempotency key" in unavailable.value.message


async def test_concurrent_quotes_with_unknown_kids_share_one_fetch(
    pricing: Pricing, quotes: SignedQuotes, clock: Clock
) -> None:
    forged = [quote_id(generate_pem(), clock) for _ in range(20)]
    async with pricing.serving(KEY):
        outcomes = await asyncio.gather(
            *(quotes.verify(each, REQUEST) for each in forged), return_exceptions=True
        )
        assert pricing.listed == 1
    assert all(isinstance(outcome, QuoteInvalid) for outcome in outcomes)


async def test_the_keys_are_fetched_again_in_the_background(
    pricing: Pricing, channel: grpc.aio.Channel
) -> None:
    keys = PricingQuoteKeys(channel, deadline_seconds=1, refresh_seconds=0.01)
    async with pricing.serving(KEY):
        assert pricing.signer is not None
        await keys.start()
        try:
            async with asyncio.timeout(10):
                await pricing.signer.listed_thrice.wait()
        finally:
            await keys.stop()
        [published] = pricing.signer.public_keys()
        assert await keys.key(published.kid) is not None
