"""An edge whose services cannot be reached (down, restarting): its own 503 asks the client
to retry, with RetryInfo as the services' UNAVAILABLE carries, over REST and native gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway.edge import Address
from gateway.edge.surface import EdgeSurface
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.devstack.ports import free_port
from tests.integration.gateway.conftest import AUDIENCE, ISSUER, edge_process, edge_settings
from tests.integration.gateway.edge_process import EnvoyProcess
from tests.integration.gateway.jwt_issuer import Issuer, JwksServer

pytestmark = pytest.mark.slow

QUOTE = {
    "terms": {
        "pickup": {"latitude": 52.52, "longitude": 13.41},
        "dropoff": {"latitude": 52.53, "longitude": 13.41},
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1000},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }
}


@pytest.fixture(scope="module")
def edge_without_services(
    tmp_path_factory: pytest.TempPathFactory, surface: EdgeSurface
) -> Iterator[EnvoyProcess]:
    out: Path = tmp_path_factory.mktemp("edge-down")
    jwks = JwksServer(Issuer(ISSUER, AUDIENCE).jwks())
    jwks.start()
    nobody = Address("127.0.0.1", free_port())  # nothing listens there
    upstreams = {name: nobody for name in surface.upstreams}
    process = edge_process(edge_settings(out, upstreams, jwks.url), out)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        jwks.stop()


def test_a_rest_call_to_a_service_that_is_down_is_a_503_that_says_when_to_retry(
    edge_without_services: EnvoyProcess,
) -> None:
    reply = edge_without_services.call("POST", "/v1/quotes", QUOTE)

    assert reply.status == 503
    assert reply.headers["retry-after"] == "1"
    body = reply.json()
    assert body["code"] == 14
    assert body["message"]
    assert body["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
    ]


def test_a_native_grpc_call_to_a_service_that_is_down_is_unavailable_with_retry_info(
    edge_without_services: EnvoyProcess,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{edge_without_services.port}") as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.CreateQuote(pricing_pb2.CreateQuoteRequest(), timeout=10)
    error = refused.value
    assert isinstance(error, grpc.Call)
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    # rpc_status checks that the details' code and message are the call's own.
    status = rpc_status.from_call(error)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert [detail.Unpack(retry) for detail in status.details] == [True]
    assert retry.retry_delay.seconds == 1
