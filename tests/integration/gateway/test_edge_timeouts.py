"""Timeouts at the edge: unary calls have a deadline, streams last as long as they are alive."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest

from tests.integration.gateway.conftest import UNARY_TIMEOUT_SECONDS, Edge
from tests.integration.gateway.raw_grpc import raw_stream_stream

pytestmark = pytest.mark.slow

COURIER_SESSION = "/lastmile.fleet.v1.CourierSessionService/Connect"


def test_a_unary_call_slower_than_the_route_timeout_is_a_504(edge: Edge) -> None:
    reply = edge.call("GET", "/v1/dispatch/overview", headers=edge.bearer(role="ops"))

    assert reply.status == 504
    assert reply.json()["code"] == 4


def test_a_watch_outlives_the_unary_timeout(edge: Edge) -> None:
    started = time.monotonic()

    reply = edge.call("GET", "/v1/deliveries/d-1:watch", headers=edge.bearer())

    assert time.monotonic() - started > UNARY_TIMEOUT_SECONDS
    assert reply.status == 200
    assert reply.body.count(b"data: ") == 2


def test_a_courier_session_streams_both_ways_for_longer_than_the_unary_timeout(
    edge: Edge,
) -> None:
    def messages() -> Iterator[bytes]:
        yield b""
        time.sleep(UNARY_TIMEOUT_SECONDS * 1.2)
        yield b""

    token = edge.issuer.token(sub="courier-3", role="courier")
    with grpc.insecure_channel(edge.grpc_target) as channel:
        replies = list(
            raw_stream_stream(channel, COURIER_SESSION)(
                messages(), metadata=(("authorization", f"Bearer {token}"),)
            )
        )

    assert replies == [b""]
    session = edge.upstream.calls_to(COURIER_SESSION)[-1]
    assert len(session.requests) == 2
    assert session.values("x-lastmile-account-id") == ["courier-3"]
