"""Authentication at the edge: which tokens pass, and which identity reaches the services."""

from __future__ import annotations

import time

import pytest

from tests.integration.gateway.conftest import AUDIENCE, ISSUER, Edge
from tests.integration.gateway.jwt_issuer import Issuer

pytestmark = pytest.mark.slow

GET_DELIVERY = "/lastmile.orders.v1.OrdersService/GetDelivery"
CREATE_ACCOUNT = "/lastmile.identity.v1.IdentityService/CreateAccount"
FORGED = {"x-lastmile-account-id": "someone-else", "x-lastmile-role": "ops"}


def _bad_token(edge: Edge, kind: str) -> dict[str, str]:
    now = int(time.time())
    tokens = {
        "missing": None,
        "expired": edge.issuer.token(iat=now - 7200, exp=now - 3600),
        "signed-by-another-key": Issuer(ISSUER, AUDIENCE).token(),
        "for-another-audience": edge.issuer.token(aud="someone-else"),
        "from-another-issuer": edge.issuer.token(iss="https://evil.example"),
        "not-a-jwt": "opaque-session-cookie",
    }
    token = tokens[kind]
    return {} if token is None else {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "expired",
        "signed-by-another-key",
        "for-another-audience",
        "from-another-issuer",
        "not-a-jwt",
    ],
)
def test_a_protected_route_answers_401_without_a_valid_token(edge: Edge, kind: str) -> None:
    calls_before = len(edge.upstream.calls_to(GET_DELIVERY))

    reply = edge.call("GET", "/v1/deliveries/d-1", headers=_bad_token(edge, kind))

    assert reply.status == 401
    assert reply.json()["code"] == 16
    assert len(edge.upstream.calls_to(GET_DELIVERY)) == calls_before


def test_a_valid_token_forwards_the_callers_identity_and_request_id(edge: Edge) -> None:
    reply = edge.call(
        "GET", "/v1/deliveries/d-1", headers=edge.bearer(sub="merchant-42", role="merchant")
    )

    assert reply.status == 200, reply.body
    seen = edge.upstream.calls_to(GET_DELIVERY)[-1]
    assert seen.values("x-lastmile-account-id") == ["merchant-42"]
    assert seen.values("x-lastmile-role") == ["merchant"]
    assert seen.values("x-request-id") == [reply.headers["x-request-id"]]


def test_a_forged_identity_never_reaches_an_open_method(edge: Edge) -> None:
    reply = edge.call("POST", "/v1/accounts", {}, headers=FORGED)

    assert reply.status == 200, reply.body
    seen = edge.upstream.calls_to(CREATE_ACCOUNT)[-1]
    assert seen.values("x-lastmile-account-id") == []
    assert seen.values("x-lastmile-role") == []


def test_a_forged_identity_is_replaced_by_the_verified_one(edge: Edge) -> None:
    headers = {**FORGED, **edge.bearer(sub="customer-1", role="customer")}

    edge.call("GET", "/v1/deliveries/d-1", headers=headers)

    seen = edge.upstream.calls_to(GET_DELIVERY)[-1]
    assert seen.values("x-lastmile-account-id") == ["customer-1"]
    assert seen.values("x-lastmile-role") == ["customer"]


def test_an_underscore_spelling_of_an_identity_header_is_rejected(edge: Edge) -> None:
    reply = edge.call("POST", "/v1/accounts", {}, headers={"x_lastmile_role": "ops"})

    assert reply.status == 400
