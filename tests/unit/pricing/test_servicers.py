"""pricing over real gRPC, in process on port 0: translation, validation and error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from tests.servers import serving
from tests.status_details import violations


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def channel(clock: Clock) -> AsyncIterator[grpc.aio.Channel]:
    host = bootstrap(PricingSettings(grpc_port=0, admin_port=-1), clock=clock)
    async with serving(host) as address, grpc.aio.insecure_channel(address) as opened:
        yield opened


def terms(**overrides: object) -> pricing_pb2.DeliveryTerms:
    fields: dict[str, object] = {
        "pickup": geo_pb2.GeoPoint(latitude=52.5219, longitude=13.4132),
        "dropoff": geo_pb2.GeoPoint(latitude=52.5319, longitude=13.4132),
        "parcel": parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
        "service_level": parcel_pb2.SERVICE_LEVEL_STANDARD,
    }
    fields.update(overrides)
    return pricing_pb2.DeliveryTerms(**fields)  # type: ignore[arg-type]


async def test_a_quote_has_an_id_price_breakdown_and_expiry(channel: grpc.aio.Channel) -> None:
    reply = await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
        pricing_pb2.CreateQuoteRequest(terms=terms())
    )
    quote = reply.quote
    assert quote.quote_id
    assert (quote.price.amount_minor, quote.price.currency_code) == (500, "EUR")
    assert sum(line.amount.amount_minor for line in quote.breakdown) == 500
    assert quote.breakdown[0].kind == pricing_pb2.PRICE_COMPONENT_KIND_BASE_FEE
    assert quote.expire_time.ToDatetime(tzinfo=UTC) - quote.create_time.ToDatetime(
        tzinfo=UTC
    ) == timedelta(minutes=15)
    assert quote.terms == terms()


async def test_every_bad_field_is_named_in_one_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    bad = terms(
        pickup=geo_pb2.GeoPoint(latitude=91, longitude=-181),
        parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_UNSPECIFIED, weight_grams=-5),
        service_level=parcel_pb2.SERVICE_LEVEL_UNSPECIFIED,
    )
    bad.ClearField("dropoff")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=bad)
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(raised.value)) == {
        "terms.pickup.latitude",
        "terms.pickup.longitude",
        "terms.dropoff",
        "terms.parcel.size",
        "terms.parcel.weight_grams",
        "terms.service_level",
    }


async def test_an_unknown_enum_number_is_invalid_not_a_crash(channel: grpc.aio.Channel) -> None:
    bad = terms(parcel=parcel_pb2.Parcel(size=99, weight_grams=100))  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=bad)
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "terms.parcel.size" in violations(raised.value)


async def test_missing_terms_are_required(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest()
        )
    assert violations(raised.value) == {"terms": "is required"}


async def test_orders_can_verify_a_quote_until_it_expires(
    channel: grpc.aio.Channel, clock: Clock
) -> None:
    quote = (
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=terms())
        )
    ).quote
    internal = pricing_pb2_grpc.PricingInternalServiceStub(channel)
    verified = await internal.VerifyQuote(
        pricing_pb2.VerifyQuoteRequest(quote_id=quote.quote_id, terms=terms())
    )
    assert verified.quote == quote
    clock.now += timedelta(minutes=20)
    with pytest.raises(grpc.aio.AioRpcError) as expired:
        await internal.VerifyQuote(
            pricing_pb2.VerifyQuoteRequest(quote_id=quote.quote_id, terms=terms())
        )
    assert expired.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_quote_presented_for_other_terms_is_invalid(channel: grpc.aio.Channel) -> None:
    quote = (
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=terms())
        )
    ).quote
    other = terms(service_level=parcel_pb2.SERVICE_LEVEL_EXPRESS)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingInternalServiceStub(channel).VerifyQuote(
            pricing_pb2.VerifyQuoteRequest(quote_id=quote.quote_id, terms=other)
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(raised.value)) == {"quote_id"}


async def test_a_far_dropoff_is_out_of_the_service_area(channel: grpc.aio.Channel) -> None:
    far = terms(dropoff=geo_pb2.GeoPoint(latitude=48.137, longitude=11.575))  # Munich
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=far)
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(raised.value)) == {"terms.dropoff"}


async def test_the_published_keys_verify_a_quote_id_without_asking_pricing(
    channel: grpc.aio.Channel,
) -> None:
    quote = (
        await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(terms=terms())
        )
    ).quote
    reply = await pricing_pb2_grpc.PricingInternalServiceStub(channel).ListQuoteKeys(
        pricing_pb2.ListQuoteKeysRequest()
    )
    [key] = reply.keys
    assert (key.kty, key.crv, key.alg, key.use, key.active) == (
        "OKP",
        "Ed25519",
        "EdDSA",
        "sig",
        True,
    )
    assert reply.max_age.ToTimedelta() == timedelta(minutes=5)
    public = jwt.PyJWK({"kty": key.kty, "crv": key.crv, "x": key.x, "kid": key.kid})
    assert jwt.get_unverified_header(quote.quote_id)["kid"] == key.kid
    claims = jwt.decode(
        quote.quote_id,
        public,
        algorithms=["EdDSA"],
        audience="lastmile.pricing.quote",
        options={"verify_exp": False},
    )
    assert (claims["amt"], claims["cur"]) == (500, "EUR")
