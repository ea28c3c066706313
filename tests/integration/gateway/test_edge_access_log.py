"""The edge's access log: one JSON object per request, with what an operator needs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway.conftest import Edge

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
