"""Native gRPC through the edge's REST port: passthrough for public services, and nothing
else, with the JWT in the `authorization` metadata."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from tests.integration.gateway.conftest import Edge
from tests.integration.gateway.raw_grpc import raw_unary

pytestmark = pytest.mark.slow

GET_DELIVERY = "/lastmile.orders.v1.OrdersService/GetDelivery"
HIDDEN = [
    "/lastmile.pricing.v1.PricingInternalService/VerifyQuote",
    "/lastmile.pricing.v1.PricingInternalService/ListQuoteKeys",
    "/lastmile.fleet.v1.FleetInternalService/GetCourier",
    "/grpc.health.v1.Health/Check",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
]


@pytest.fixture
def channel(edge: Edge) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(edge.grpc_target) as opened:
        yield opened


def test_native_grpc_create_quote_passes_through_the_edge(channel: grpc.Channel) -> None:
    terms = pricing_pb2.DeliveryTerms(
        pickup=geo_pb2.GeoPoint(latitude=52.5219, longitude=13.4132),
        dropoff=geo_pb2.GeoPoint(latitude=52.5319, longitude=13.4132),
        parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
        service_level=parcel_pb2.SERVICE_LEVEL_STANDARD,
    )

    reply = pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
        pricing_pb2.CreateQuoteRequest(terms=terms), timeout=5
    )

    assert reply.quote.price.amount_minor == 500


@pytest.mark.parametrize("path", HIDDEN)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "with-token"])
def test_internal_services_and_grpc_plumbing_are_unimplemented(
    edge: Edge, channel: grpc.Channel, path: str, signed_in: bool
) -> None:
    metadata = tuple(edge.bearer(role="ops").items()) if signed_in else ()

    with pytest.raises(grpc.RpcError) as refused:
        raw_unary(channel, path)(b"", timeout=5, metadata=metadata)

    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert not edge.upstream.calls_to(path)


def test_an_unknown_method_is_unimplemented_for_a_signed_in_caller(
    edge: Edge, channel: grpc.Channel
) -> None:
    # Anonymous callers learn nothing about unknown paths: they are asked for a token first.
    path = "/lastmile.nowhere.v1.NoService/Nothing"
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (tuple(edge.bearer().items()), grpc.StatusCode.UNIMPLEMENTED),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            raw_unary(channel, path)(b"", timeout=5, metadata=metadata)
        assert refused.value.code() is code


def test_a_token_for_another_audience_is_unauthenticated_over_grpc(
    edge: Edge, channel: grpc.Channel
) -> None:
    metadata = tuple(edge.bearer(aud="someone-else").items())

    with pytest.raises(grpc.RpcError) as refused:
        raw_unary(channel, GET_DELIVERY)(b"", timeout=5, metadata=metadata)

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_health_of_a_service_is_not_visible_from_outside(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)

    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


def test_a_grpc_call_without_a_token_is_unauthenticated(edge: Edge, channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        raw_unary(channel, GET_DELIVERY)(b"", timeout=5)

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.details() == "Jwt is missing"


def test_a_grpc_caller_signs_in_with_authorization_metadata(
    edge: Edge, channel: grpc.Channel
) -> None:
    token = edge.issuer.token(sub="courier-7", role="courier")

    raw_unary(channel, GET_DELIVERY)(
        b"", timeout=5, metadata=(("authorization", f"Bearer {token}"),)
    )

    seen = edge.upstream.calls_to(GET_DELIVERY)[-1]
    assert seen.values("x-lastmile-account-id") == ["courier-7"]
    assert seen.values("x-lastmile-role") == ["courier"]
    assert seen.values("authorization") == []
