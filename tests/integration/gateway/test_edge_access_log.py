"""The edge's access log: one JSON object per request, with what an operator needs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.integration.gateway.conftest import Edge
from tests.integration.gateway.raw_grpc import raw_unary

pytestmark = pytest.mark.slow


def _logged(access_log: Path, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    # The edge flushes its access log file every half second.
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        for line in access_log.read_text().splitlines():
            entry: dict[str, Any] = json.loads(line)
            if entry["request_id"] == request_id:
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no access log entry for {request_id}")


def test_a_rest_call_is_logged_with_its_original_path_and_grpc_status(edge: Edge) -> None:
    reply = edge.call("GET", "/v1/deliveries/d-9", headers=edge.bearer(sub="acc-9"))

    entry = _logged(edge.access_log, reply.headers["x-request-id"])

    assert entry["method"] == "GET"
    assert entry["path"] == "/v1/deliveries/d-9"
    assert entry["rpc"] == "/lastmile.orders.v1.OrdersService/GetDelivery"
    assert entry["status"] == 200
    assert entry["grpc_status"] == "OK"
    assert entry["upstream_cluster"] == "lastmile_orders"
    assert entry["account_id"] == "acc-9"
    assert isinstance(entry["duration_ms"], int)


def test_a_call_refused_at_the_edge_is_logged_with_why(edge: Edge) -> None:
    reply = edge.call("GET", "/v1/deliveries/d-9")

    entry = _logged(edge.access_log, reply.headers["x-request-id"])

    assert entry["status"] == 401
    assert entry["path"] == "/v1/deliveries/d-9"
    assert "jwt" in entry["details"].lower()


@pytest.mark.parametrize(
    "body",
    [
        # Refused by pricing, whose trailers-only reply the transcoder turns into JSON.
        {"terms": {"pickup": {"latitude": 123, "longitude": 13.4}}},
        # Refused by the transcoder itself.
        b'{"terms": ',
    ],
    ids=["by the service", "by the transcoder"],
)
def test_a_transcoded_invalid_argument_is_logged_as_invalid_argument(
    edge: Edge, body: object
) -> None:
    reply = edge.call("POST", "/v1/quotes", body)
    assert (reply.status, reply.json()["code"]) == (400, 3)

    entry = _logged(edge.access_log, reply.headers["x-request-id"])

    assert entry["rpc"] == "/lastmile.pricing.v1.PricingService/CreateQuote"
    assert entry["grpc_status"] == "InvalidArgument"


def test_a_native_grpc_call_is_logged_with_its_grpc_status(edge: Edge) -> None:
    with grpc.insecure_channel(edge.grpc_target) as channel:
        _, call = raw_unary(channel, "/lastmile.orders.v1.OrdersService/GetDelivery").with_call(
            b"", timeout=5, metadata=tuple(edge.bearer().items())
        )
    request_id = dict(call.initial_metadata())["x-request-id"]

    entry = _logged(edge.access_log, str(request_id))

    assert (entry["protocol"], entry["status"], entry["grpc_status"]) == ("HTTP/2", 200, "OK")
