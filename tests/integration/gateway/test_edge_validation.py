"""The contract's request rules over REST, through the real edge in front of the real
orders (PostgreSQL, NATS) and pricing: a control character, NUL included, in any text
field is a 400 naming the field, never a 500, and an import item with one fails alone;
a pickup outside every service region is a 400 with reason OUT_OF_SERVICE_AREA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import json_format

from gateway.edge import Address
from gateway.edge.surface import EdgeSurface
from lastmile.orders.v1 import orders_pb2
from services.devstack import LocalNats, LocalPostgres
from tests.integration.gateway.conftest import (
    AUDIENCE,
    ISSUER,
    Edge,
    edge_process,
    edge_settings,
)
from tests.integration.gateway.edge_process import Reply
from tests.integration.gateway.jwt_issuer import Issuer, JwksServer
from tests.integration.gateway.recording_upstream import RecordingUpstream
from tests.integration.stack import orders_with_pricing
from tests.orders_examples import DELIVERY_TEXT_FIELDS, delivery, with_text

pytestmark = pytest.mark.slow
NUL = "\x00"


@pytest.fixture(scope="module")
async def orders_edge(
    tmp_path_factory: pytest.TempPathFactory,
    surface: EdgeSurface,
    postgres: LocalPostgres,
    nats: LocalNats,
) -> AsyncIterator[Edge]:
    out = tmp_path_factory.mktemp("validation-edge")
    issuer = Issuer(ISSUER, AUDIENCE)
    jwks = JwksServer(issuer.jwks())
    upstream = RecordingUpstream(surface, {}, {})
    async with orders_with_pricing(postgres, nats.url) as served:
        jwks.start()
        upstream.start()
        try:
            recorder = Address("127.0.0.1", upstream.port)
            upstreams = {
                **{name: recorder for name in surface.upstreams},
                "orders": address_of(served.address),
                "pricing": address_of(served.pricing_address),
            }
            process = edge_process(edge_settings(out, upstreams, jwks.url), out)
            await asyncio.to_thread(process.start)
            try:
                yield Edge(process, upstream, issuer, surface, out / "access.log")
            finally:
                await asyncio.to_thread(process.stop)
        finally:
            upstream.stop()
            jwks.stop()


def address_of(target: str) -> Address:
    host, _, port = target.rpartition(":")
    return Address(host, int(port))


async def call(edge: Edge, method: str, path: str, body: object = None, **headers: str) -> Reply:
    # The servers run on this test's event loop, so the blocking client runs beside it.
    merchant = edge.bearer("0f8fad5b-d9cb-469f-a165-70867728950e", "merchant")
    return await asyncio.to_thread(edge.call, method, path, body, {**merchant, **headers})


def field_violations(reply: Reply) -> list[str]:
    details = {detail["@type"]: detail for detail in reply.json()["details"]}
    bad_request = details["type.googleapis.com/google.rpc.BadRequest"]
    return [violation["field"] for violation in bad_request["fieldViolations"]]


def delivery_json(**text: str) -> dict[str, Any]:
    message = delivery()
    for path, value in text.items():
        message = with_text(message, path, value)
    return json_format.MessageToDict(message)


async def test_a_valid_delivery_is_created_over_rest(orders_edge: Edge) -> None:
    reply = await call(orders_edge, "POST", "/v1/deliveries", delivery_json())
    assert reply.status == 200, reply.body
    assert reply.json()["delivery"]["status"] == "DELIVERY_STATUS_PENDING"


@pytest.mark.parametrize("path", DELIVERY_TEXT_FIELDS)
async def test_a_nul_in_any_delivery_text_field_is_a_400_naming_it(
    orders_edge: Edge, path: str
) -> None:
    reply = await call(
        orders_edge, "POST", "/v1/deliveries", delivery_json(**{path: f"bad{NUL}text"})
    )
    assert reply.status == 400, reply.body
    status = reply.json()
    assert status["code"] == 3
    assert field_violations(reply) == [f"delivery.{path}"]
    assert f"delivery.{path}: must not contain control characters" in status["message"]


async def test_a_nul_in_the_cancel_reason_is_a_400(orders_edge: Edge) -> None:
    created = await call(orders_edge, "POST", "/v1/deliveries", delivery_json())
    delivery_id = created.json()["delivery"]["deliveryId"]
    reply = await call(
        orders_edge, "POST", f"/v1/deliveries/{delivery_id}:cancel", {"reason": f"no{NUL}"}
    )
    assert reply.status == 400, reply.body
    assert field_violations(reply) == ["reason"]


async def test_an_import_item_with_a_nul_fails_alone_with_invalid_argument(
    orders_edge: Edge,
) -> None:
    items = [
        {"idempotencyKey": "rest-ok", "delivery": delivery_json()},
        {
            "idempotencyKey": "rest-nul",
            "delivery": delivery_json(**{"pickup.instructions": f"ring{NUL}twice"}),
        },
    ]
    reply = await call(orders_edge, "POST", "/v1/deliveries:import", items)
    assert reply.status == 200, reply.body
    summary = json_format.ParseDict(reply.json(), orders_pb2.ImportDeliveriesResponse())
    assert [c.index for c in summary.created] == [0]
    [failed] = summary.errors
    assert (failed.index, failed.idempotency_key, failed.status.code) == (1, "rest-nul", 3)
    assert "delivery.pickup.instructions" in failed.status.message


async def test_a_nul_in_a_quote_is_a_400_from_pricing(orders_edge: Edge) -> None:
    terms = {
        "pickup": {"latitude": 52.52, "longitude": 13.41},
        "dropoff": {"latitude": 52.53, "longitude": 13.41},
        "parcel": {
            "size": "PARCEL_SIZE_SMALL",
            "weightGrams": 1000,
            "description": f"glass{NUL}",
        },
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }
    reply = await call(orders_edge, "POST", "/v1/quotes", {"terms": terms})
    assert reply.status == 400, reply.body
    assert field_violations(reply) == ["terms.parcel.description"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pageSize=-1", "page_size"),
        ("statuses=DELIVERY_STATUS_UNSPECIFIED", "statuses[0]"),
    ],
)
async def test_bad_list_parameters_are_400s_naming_the_field(
    orders_edge: Edge, query: str, field: str
) -> None:
    reply = await call(orders_edge, "GET", f"/v1/deliveries?{query}")
    assert reply.status == 400, reply.body
    assert field_violations(reply) == [field]


def reason_of(reply: Reply) -> str:
    details = {detail["@type"]: detail for detail in reply.json()["details"]}
    reason: str = details["type.googleapis.com/google.rpc.ErrorInfo"]["reason"]
    return reason


VIENNA = {"latitude": 48.2082, "longitude": 16.3738}  # outside every region


async def test_a_pickup_outside_every_region_is_a_400_out_of_service_area(
    orders_edge: Edge,
) -> None:
    outside = {**delivery_json(), "pickup": {**delivery_json()["pickup"], "point": VIENNA}}
    reply = await call(orders_edge, "POST", "/v1/deliveries", outside)
    assert reply.status == 400, reply.body
    assert reply.json()["code"] == 3
    assert reason_of(reply) == "OUT_OF_SERVICE_AREA"
    assert field_violations(reply) == ["delivery.pickup.point"]


async def test_a_quote_for_a_pickup_outside_every_region_is_a_400_out_of_service_area(
    orders_edge: Edge,
) -> None:
    terms = {
        "pickup": VIENNA,
        "dropoff": {"latitude": 48.21, "longitude": 16.38},
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1000},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }
    reply = await call(orders_edge, "POST", "/v1/quotes", {"terms": terms})
    assert reply.status == 400, reply.body
    assert reason_of(reply) == "OUT_OF_SERVICE_AREA"
    assert field_violations(reply) == ["terms.pickup"]
