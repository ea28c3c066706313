"""REST/JSON through the real edge: the proto3 JSON mapping, error bodies, streams, documents."""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf import json_format

from gateway.edge.settings import OPENAPI_DOCUMENT
from lastmile.orders.v1 import orders_pb2
from tests.integration.gateway.conftest import IMPORT, Edge

pytestmark = pytest.mark.slow

QUOTE_REQUEST = {
    "terms": {
        "pickup": {"latitude": 52.5219, "longitude": 13.4132},
        "dropoff": {"latitude": 52.5319, "longitude": 13.4132},
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1000},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }
}
CREATE_DELIVERY = "/lastmile.orders.v1.OrdersService/CreateDelivery"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_a_quote_over_rest_comes_back_in_the_proto3_json_mapping(edge: Edge) -> None:
    reply = edge.call("POST", "/v1/quotes", QUOTE_REQUEST)

    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    quote = reply.json()["quote"]
    assert quote["price"] == {"amountMinor": "500", "currencyCode": "EUR"}
    assert quote["terms"]["serviceLevel"] == "SERVICE_LEVEL_STANDARD"
    assert quote["breakdown"][0] == {
        "kind": "PRICE_COMPONENT_KIND_BASE_FEE",
        "amount": {"amountMinor": "250", "currencyCode": "EUR"},
    }
    assert isinstance(quote["distanceMeters"], int)
    assert RFC3339.match(quote["createTime"])
    assert RFC3339.match(quote["expireTime"])
    assert quote["quoteId"]
    assert "quote_id" not in quote


def test_a_bad_quote_is_a_400_with_a_status_body_and_its_field_violations(edge: Edge) -> None:
    request = json.loads(json.dumps(QUOTE_REQUEST))
    request["terms"]["pickup"]["latitude"] = 123

    reply = edge.call("POST", "/v1/quotes", request)

    assert reply.status == 400
    status = reply.json()
    assert status["code"] == 3
    details = {detail["@type"]: detail for detail in status["details"]}
    violations = details["type.googleapis.com/google.rpc.BadRequest"]["fieldViolations"]
    assert [violation["field"] for violation in violations] == ["terms.pickup.latitude"]
    assert details["type.googleapis.com/google.rpc.ErrorInfo"]["reason"] == "VALIDATION_FAILED"


def test_zero_values_are_printed_rather_than_left_out(edge: Edge) -> None:
    page = edge.call("GET", "/v1/deliveries", headers=edge.bearer())

    assert page.status == 200, page.body
    assert page.json() == {"deliveries": [], "nextPageToken": ""}


@pytest.mark.parametrize(
    ("method", "path", "named"),
    [
        ("POST", "/v1/quotes?colour=blue", "colour"),
        ("GET", "/v1/deliveries?pageSize=2&colour=blue", "colour"),
        ("GET", "/v1/deliveries?page.size=2", "page"),
        ("GET", "/v1/deliveries?page_sise=2", "page_sise"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(
    edge: Edge, method: str, path: str, named: str
) -> None:
    body = QUOTE_REQUEST if method == "POST" else None
    reply = edge.call(method, path, body, headers=edge.bearer())

    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert f'"{named}"' in reply.json()["message"]


def test_unknown_body_fields_are_dropped_by_the_transcoder_and_the_rest_is_forwarded(
    edge: Edge,
) -> None:
    # grpc-httpjson-transcoding parses bodies with ignore_unknown_fields and Envoy offers no
    # switch for it (README, "Errors"); this pins the behaviour that clients are told about.
    delivery = {"serviceLevel": "SERVICE_LEVEL_EXPRESS", "pickup": {"address": "A 1"}}
    misspelt = {
        **delivery,
        "instrutions": "ring twice",
        "pickup": {"address": "A 1", "colour": "blue"},
    }

    reply = edge.call("POST", "/v1/deliveries", misspelt, headers=edge.bearer())

    assert reply.status == 200, reply.body
    forwarded = orders_pb2.CreateDeliveryRequest.FromString(
        edge.upstream.calls_to(CREATE_DELIVERY)[-1].requests[0]
    )
    expected = orders_pb2.CreateDeliveryRequest()
    json_format.ParseDict({"delivery": delivery}, expected)
    assert forwarded == expected


def test_an_empty_json_key_is_a_400_with_the_parsers_message(edge: Edge) -> None:
    reply = edge.call("POST", "/v1/quotes", {**QUOTE_REQUEST, "": 1})

    assert reply.status == 400
    assert reply.json() == {"code": 3, "message": ": Proto fields must have a name."}


def test_an_unknown_path_is_a_404_with_a_status_body(edge: Edge) -> None:
    reply = edge.call("GET", "/v1/parcels/p-1")

    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 5


@pytest.mark.parametrize(
    "path",
    [
        "/lastmile.pricing.v1.PricingInternalService/VerifyQuote",
        "/lastmile.orders.v1.OrdersInternalService/AssignCourier",
        "/grpc.health.v1.Health/Check",
    ],
)
def test_an_internal_service_is_not_found_over_rest(edge: Edge, path: str) -> None:
    reply = edge.call("POST", path, {}, headers=edge.bearer(role="ops"))

    assert reply.status == 404
    assert not edge.upstream.calls_to(path)


def test_a_server_stream_is_sent_as_server_sent_events(edge: Edge) -> None:
    reply = edge.call("GET", "/v1/deliveries/d-1:watch", headers=edge.bearer())

    assert reply.status == 200
    assert reply.headers["content-type"] == "text/event-stream"
    events = [event for event in reply.body.decode().split("\n\n") if event]
    assert [event.partition(": ")[0] for event in events] == ["data", "data"]
    first, second = (json.loads(event.partition(": ")[2]) for event in events)
    assert first == {"sendTime": "2026-01-01T00:00:00Z", "heartbeat": {}}
    assert second["statusChange"]["version"] == "7"


def test_an_import_takes_a_json_array_and_sends_each_element_as_a_message(edge: Edge) -> None:
    items = [{"idempotencyKey": f"item-{index}", "delivery": {}} for index in range(3)]

    reply = edge.call("POST", "/v1/deliveries:import", items, headers=edge.bearer())

    assert reply.status == 200, reply.body
    assert reply.json() == {
        "itemCount": 1,
        "created": [{"index": 0, "deliveryId": "d-0", "replayed": False}],
        "errors": [],
    }
    received = edge.upstream.calls_to(IMPORT)[-1].requests
    keys = [
        orders_pb2.ImportDeliveriesRequest.FromString(item).idempotency_key for item in received
    ]
    assert keys == ["item-0", "item-1", "item-2"]


def test_the_openapi_document_is_served_as_generated(edge: Edge) -> None:
    reply = edge.call("GET", "/openapi.json")

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == json.loads(OPENAPI_DOCUMENT.read_text())


def test_the_docs_page_lists_the_operations(edge: Edge) -> None:
    reply = edge.call("GET", "/docs")

    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    page = reply.body.decode()
    assert "/v1/quotes" in page
    assert "/v1/deliveries/{delivery_id}:watch" in page
