"""What the edge refuses on its own, before any service sees the request, and how it says so:
a google.rpc.Status with a message for REST, a real gRPC status for native gRPC."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import grpc
import pytest

from tests.integration.gateway.conftest import ALLOWED_ORIGIN, Edge
from tests.integration.gateway.edge_process import Reply
from tests.integration.gateway.raw_grpc import raw_unary

pytestmark = pytest.mark.slow

MALFORMED_PATH = "malformed request path"
GET_DELIVERY = "/lastmile.orders.v1.OrdersService/GetDelivery"


@pytest.fixture
def channel(edge: Edge) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(edge.grpc_target) as opened:
        yield opened


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/v1/me", "GET"),
        ("DELETE", "/v1/quotes", "POST"),
        ("PUT", "/v1/deliveries", "GET, POST"),
        ("GET", "/v1/deliveries/d-1:cancel", "POST"),
        ("DELETE", "/v1/deliveries/d-1", "GET"),
        ("OPTIONS", "/v1/me", "GET"),
    ],
)
def test_an_undeclared_method_on_a_known_path_is_405_with_the_methods_it_takes(
    edge: Edge, method: str, path: str, allow: str
) -> None:
    reply = edge.call(method, path, headers=edge.bearer())

    assert reply.status == 405
    assert reply.headers["allow"] == allow
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {
        "code": 12,
        "message": f"method {method} is not allowed here: this path takes {allow}",
    }


def test_a_wrong_method_is_405_without_a_token_too(edge: Edge) -> None:
    reply = edge.call("PATCH", "/v1/deliveries/d-1")

    assert reply.status == 405
    assert reply.headers["allow"] == "GET"


def test_a_preflight_for_a_declared_method_is_still_answered(edge: Edge) -> None:
    reply = edge.call(
        "OPTIONS",
        "/v1/me",
        headers={"origin": ALLOWED_ORIGIN, "access-control-request-method": "GET"},
    )

    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


@pytest.mark.parametrize(
    "delivery_id",
    ["a%2Fb", "a%2fb", "a%00b", "a%5Cb", "..%2F..%2Fv1%2Fme"],
)
def test_an_id_holding_an_escaped_slash_or_nul_is_a_400_that_says_why(
    edge: Edge, delivery_id: str
) -> None:
    forwarded = len(edge.upstream.calls_to(GET_DELIVERY))

    reply = edge.call("GET", f"/v1/deliveries/{delivery_id}", headers=edge.bearer())

    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert reply.json()["message"].startswith(MALFORMED_PATH)
    assert len(edge.upstream.calls_to(GET_DELIVERY)) == forwarded


def _raw_http1(edge: Edge, request_line: bytes, host: bytes = b"Host: edge\r\n") -> Reply:
    """A request whose bytes http.client would refuse to send."""
    with socket.create_connection(("127.0.0.1", edge.process.port), timeout=10) as sock:
        sock.sendall(request_line + b"\r\n" + host + b"Connection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return Reply(int(status_line.split()[1]), headers, body)


@pytest.mark.parametrize(
    "path",
    [b"/v1/deliveries/a\xffb", b"/v1/deliveries/a\xc3\x28", b"/v1/deliveries/a\x01b"],
    ids=["latin-1 byte", "broken utf-8", "control byte"],
)
def test_a_path_with_raw_bytes_http_forbids_is_a_400_that_says_why(edge: Edge, path: bytes) -> None:
    reply = _raw_http1(edge, b"GET " + path + b" HTTP/1.1")

    assert reply.status == 400
    status = json.loads(reply.body)
    assert status["code"] == 3
    assert status["message"].startswith("malformed HTTP request (http1.")


def test_any_other_request_the_edge_refuses_says_why_in_envoys_words(edge: Edge) -> None:
    reply = _raw_http1(edge, b"GET /v1/me HTTP/1.1", host=b"")

    assert reply.status == 400
    assert json.loads(reply.body) == {
        "code": 3,
        "message": "the edge refused the request (missing_host_header)",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/lastmile.orders.v1.OrdersService/Get%2FDelivery",
        "/lastmile.orders.v1.OrdersService/GetDelivery#fragment",
        "/lastmile.orders.v1.OrdersService/GetDelivery%00",
    ],
    ids=["escaped slash", "hash", "escaped nul"],
)
def test_a_malformed_grpc_path_is_invalid_argument_with_a_message(
    edge: Edge, channel: grpc.Channel, path: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        raw_unary(channel, path)(b"", timeout=5, metadata=tuple(edge.bearer().items()))

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.value.details() or "").startswith(MALFORMED_PATH)


def test_a_header_name_with_an_underscore_is_a_400_that_says_why(edge: Edge) -> None:
    # An underscore spelling of an identity header must not slip past the sanitizer.
    reply = edge.call("GET", "/v1/me", headers={**edge.bearer(), "x_lastmile_role": "ops"})

    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert reply.json()["message"].startswith(
        "malformed HTTP request (http1.unexpected_underscore)"
    )
