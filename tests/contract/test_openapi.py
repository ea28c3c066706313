"""The OpenAPI document describes the REST API exactly as the Envoy edge transcodes it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import google.api
import grpc_tools
import pytest
from google.api import http_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from gateway.access import ANONYMOUS_METHODS
from gateway.openapi import build_document
from gateway.path_template import PathVariable, parse_path_template
from gateway.proto_catalog import HTTP_RULE

ROOT = Path(__file__).resolve().parents[2]
LASTMILE_DESCRIPTORS = ROOT / "gen" / "descriptors" / "lastmile.binpb"
SAMPLE_PROTOS = Path(__file__).parent / "protos"
SAMPLE_ANONYMOUS = frozenset({"sample.v1.ShelfService/GetParcel"})

Document = dict[str, Any]


def compile_protos(proto_root: Path, files: list[str], out: Path) -> bytes:
    googleapis = Path(google.api.__path__[0]).parent.parent
    well_known = Path(grpc_tools.__path__[0]) / "_proto"
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc",
            f"-I{proto_root}", f"-I{googleapis}", f"-I{well_known}",
            f"--descriptor_set_out={out}", "--include_imports", "--include_source_info",
            *files,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def lastmile() -> Document:
    return build_document(LASTMILE_DESCRIPTORS.read_bytes())


@pytest.fixture(scope="module")
def sample_descriptors(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("descriptors") / "sample.binpb"
    files = ["sample/v1/shelf.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"]
    return compile_protos(SAMPLE_PROTOS, files, out)


@pytest.fixture(scope="module")
def sample(sample_descriptors: bytes) -> Document:
    return build_document(sample_descriptors, anonymous_methods=SAMPLE_ANONYMOUS)


def operation(document: Document, path: str, method: str) -> Document:
    found: Document = document["paths"][path][method]
    return found


def schema(document: Document, name: str) -> Document:
    found: Document = document["components"]["schemas"][name]
    return found


def parcel_property(document: Document, name: str) -> Document:
    found: Document = schema(document, "sample.v1.Parcel")["properties"][name]
    return found


def request_schema(document: Document, path: str, method: str) -> Document:
    found: Document = operation(document, path, method)["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return found


def ok_content(document: Document, path: str, method: str) -> Document:
    found: Document = operation(document, path, method)["responses"]["200"]["content"]
    return found


def ref(name: str) -> Document:
    return {"$ref": f"#/components/schemas/{name}"}


def test_the_lastmile_document_is_valid_openapi_3_1(lastmile: Document) -> None:
    validate(lastmile)
    assert lastmile["openapi"] == "3.1.0"


def test_the_lastmile_document_exposes_public_rpcs_only(lastmile: Document) -> None:
    operation_ids = {
        op["operationId"] for methods in lastmile["paths"].values() for op in methods.values()
    }
    assert "PricingService_CreateQuote" in operation_ids
    assert not any("Internal" in operation_id for operation_id in operation_ids)
    assert "lastmile.pricing.v1.VerifyQuoteRequest" not in lastmile["components"]["schemas"]


def test_creating_a_quote_needs_no_token_by_default(lastmile: Document) -> None:
    assert "lastmile.pricing.v1.PricingService/CreateQuote" in ANONYMOUS_METHODS
    assert operation(lastmile, "/v1/quotes", "post")["security"] == []


def test_the_sample_document_is_valid_openapi_3_1(sample: Document) -> None:
    validate(sample)


def test_the_document_is_the_same_on_every_build(sample_descriptors: bytes) -> None:
    first = build_document(sample_descriptors, anonymous_methods=SAMPLE_ANONYMOUS)
    second = build_document(sample_descriptors, anonymous_methods=SAMPLE_ANONYMOUS)
    assert json.dumps(first) == json.dumps(second)
    assert list(first["paths"]) == sorted(first["paths"])
    assert list(first["components"]["schemas"]) == sorted(first["components"]["schemas"])


def test_info_servers_and_the_bearer_scheme_are_fixed(sample: Document) -> None:
    assert sample["info"]["title"] == "Lastmile API"
    assert sample["info"]["version"] == "v1"
    assert "proto3 JSON" in sample["info"]["description"]
    assert sample["servers"] == [{"url": "/"}]
    assert sample["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }


def test_rpcs_without_an_http_rule_are_left_out(sample: Document) -> None:
    operation_ids = {
        op["operationId"] for methods in sample["paths"].values() for op in methods.values()
    }
    assert "ShelfService_Reindex" not in operation_ids
    assert "sample.v1.ReindexRequest" not in sample["components"]["schemas"]


def test_operations_are_named_and_described_from_the_proto(sample: Document) -> None:
    get = operation(sample, "/v1/parcels/{parcel_id}", "get")
    assert get["operationId"] == "ShelfService_GetParcel"
    assert get["tags"] == ["ShelfService"]
    assert get["summary"] == "Gets one parcel."
    assert get["description"] == "Gets one parcel. Anyone who knows its id may read it."
    assert sample["tags"] == [
        {"name": "ShelfService", "description": "ShelfService keeps parcels on shelves."}
    ]


def test_path_variables_become_required_path_parameters(sample: Document) -> None:
    assert operation(sample, "/v1/parcels/{parcel_id}", "get")["parameters"] == [
        {
            "name": "parcel_id",
            "in": "path",
            "required": True,
            "description": "The parcel to get.",
            "schema": {"type": "string"},
        }
    ]


def test_custom_verbs_stay_in_the_path(sample: Document) -> None:
    assert {
        "/v1/parcels/{parcel_id}:cancel",
        "/v1/parcels/{parcel_id}:watch",
        "/v1/parcels:import",
        "/v1/robot:converse",
    } <= set(sample["paths"])


def test_a_resource_name_variable_is_one_parameter_with_a_segment_pattern(
    sample: Document,
) -> None:
    create = operation(sample, "/v1/{parent}/parcels", "post")
    assert create["parameters"][0] == {
        "name": "parent",
        "in": "path",
        "required": True,
        "description": "The shelf.\n\nOf the form `shelves/*`; its `/` separators are part of "
        "the value and are sent unescaped.",
        "schema": {"type": "string", "pattern": "^shelves/[^/]+$"},
    }


def test_a_nested_path_variable_is_named_by_its_field_path_and_left_out_of_the_body(
    sample: Document,
) -> None:
    update = operation(sample, "/v1/parcels/{parcel.id}", "patch")
    assert update["parameters"] == [
        {
            "name": "parcel.id",
            "in": "path",
            "required": True,
            "description": "The parcel id.",
            "schema": {"type": "string"},
        }
    ]
    body = request_schema(sample, "/v1/parcels/{parcel.id}", "patch")
    assert body["required"] == ["parcel"]
    assert "id" not in body["properties"]["parcel"]["properties"]
    assert body["properties"]["parcel"]["properties"]["weightGrams"] == parcel_property(
        sample, "weightGrams"
    )
    assert body["properties"]["parcel"]["required"] == ["size"]


def test_body_star_is_the_request_without_its_path_bound_fields(sample: Document) -> None:
    assert request_schema(sample, "/v1/parcels/{parcel_id}:cancel", "post") == {
        "type": "object",
        "properties": {"shelfId": {"type": "string"}, "reason": {"type": "string"}},
    }
    assert request_schema(sample, "/v1/shelves/{shelf_id}/parcels/{parcel_id}:cancel", "post") == {
        "type": "object",
        "properties": {"reason": {"type": "string"}},
    }


def test_body_star_without_path_variables_is_the_request_message(lastmile: Document) -> None:
    body = operation(lastmile, "/v1/quotes", "post")["requestBody"]
    assert body == {
        "content": {"application/json": {"schema": ref("lastmile.pricing.v1.CreateQuoteRequest")}},
        "required": True,
    }


def test_a_body_field_is_that_fields_schema_and_the_rest_goes_to_the_query(
    sample: Document,
) -> None:
    create = operation(sample, "/v1/{parent}/parcels", "post")
    assert create["requestBody"] == {
        "content": {"application/json": {"schema": ref("sample.v1.Parcel")}},
        "description": "The parcel to create.",
        "required": True,
    }
    assert create["parameters"][1:] == [
        {
            "name": "requestId",
            "in": "query",
            "description": "Makes retries safe.",
            "schema": {"type": "string"},
        }
    ]


def test_response_body_selects_a_response_field_for_its_own_binding_only(
    sample: Document,
) -> None:
    cancel = operation(sample, "/v1/parcels/{parcel_id}:cancel", "post")
    cancel_on_shelf = operation(sample, "/v1/shelves/{shelf_id}/parcels/{parcel_id}:cancel", "post")
    assert cancel["operationId"] == "ShelfService_CancelParcel"
    assert cancel_on_shelf["operationId"] == "ShelfService_CancelParcel_2"
    assert cancel["responses"]["200"]["content"] == {
        "application/json": {"schema": ref("sample.v1.Parcel")}
    }
    assert cancel_on_shelf["responses"]["200"]["content"] == {
        "application/json": {"schema": ref("sample.v1.CancelParcelResponse")}
    }


def test_a_get_turns_leaf_fields_into_dotted_query_parameters(sample: Document) -> None:
    parameters = operation(sample, "/v1/parcels", "get")["parameters"]
    # Maps, repeated messages, recursive messages and output-only fields cannot be sent.
    assert [parameter["name"] for parameter in parameters] == [
        "pageSize",
        "pageToken",
        "filter.size",
        "filter.tags",
        "filter.minWeightGrams",
        "filter.createdAfter",
        "filter.near.street",
        "filter.near.city",
        "minCount",
    ]
    by_name = {parameter["name"]: parameter for parameter in parameters}
    assert by_name["filter.size"] == {
        "name": "filter.size",
        "in": "query",
        "required": True,
        "description": "Only this size.",
        "schema": ref("sample.v1.Size"),
    }
    assert by_name["filter.tags"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert by_name["filter.minWeightGrams"]["schema"] == {"type": "string", "format": "int64"}
    assert by_name["minCount"]["schema"] == {"type": ["integer", "null"], "format": "int32"}
    assert "requestBody" not in operation(sample, "/v1/parcels", "get")


def test_int64_fields_are_strings_in_json(sample: Document) -> None:
    properties = schema(sample, "sample.v1.Parcel")["properties"]
    assert properties["weightGrams"] == {
        "type": "string",
        "format": "int64",
        "description": "The weight.",
    }
    assert properties["serial"] == {"type": "string", "format": "uint64"}
    assert properties["offset"] == {"type": "string", "format": "int64"}
    assert properties["checksum"] == {"type": "string", "format": "uint64"}
    assert properties["balance"] == {"type": "string", "format": "int64"}


def test_other_scalars_follow_the_proto3_json_mapping(sample: Document) -> None:
    properties = schema(sample, "sample.v1.Parcel")["properties"]
    assert properties["count"] == {"type": "integer", "format": "int32"}
    assert properties["floor"] == {"type": "integer", "format": "uint32", "minimum": 0}
    assert properties["price"] == {"type": "number", "format": "double"}
    assert properties["ratio"] == {"type": "number", "format": "float"}
    assert properties["fragile"] == {"type": "boolean"}
    assert properties["signature"] == {"type": "string", "contentEncoding": "base64"}


def test_field_names_are_the_lower_camel_case_json_names(sample: Document) -> None:
    assert "pickupCode" in schema(sample, "sample.v1.Parcel")["properties"]
    assert "pickup_code" not in schema(sample, "sample.v1.Parcel")["properties"]


def test_enums_are_value_names_that_also_accept_numbers(sample: Document) -> None:
    assert parcel_property(sample, "size") == {
        "$ref": "#/components/schemas/sample.v1.Size",
        "description": "How big.",
    }
    assert schema(sample, "sample.v1.Size") == {
        "type": "string",
        "enum": ["SIZE_UNSPECIFIED", "SIZE_SMALL", "SIZE_LARGE"],
        "description": "Size is how big a parcel is.\n\n"
        "- `SIZE_UNSPECIFIED`: Not set.\n- `SIZE_SMALL`: Fits in a pocket.\n- `SIZE_LARGE`\n\n"
        "Written as the value's name; on input the value's number is accepted too.",
    }


def test_maps_are_objects_whose_values_and_keys_are_typed(sample: Document) -> None:
    assert parcel_property(sample, "labels") == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    assert parcel_property(sample, "related") == {
        "type": "object",
        "additionalProperties": ref("sample.v1.Parcel"),
        "propertyNames": {"pattern": "^-?[0-9]+$"},
    }


def test_repeated_fields_are_arrays_and_recursive_messages_are_references(
    sample: Document,
) -> None:
    assert parcel_property(sample, "tags") == {"type": "array", "items": {"type": "string"}}
    assert parcel_property(sample, "contents") == {
        "type": "array",
        "items": ref("sample.v1.Parcel"),
        "description": "Parcels inside this one.",
    }


def test_oneof_members_are_documented_as_mutually_exclusive(sample: Document) -> None:
    rule = "At most one of `lockerId`, `address` is set (oneof `destination`)."
    assert parcel_property(sample, "lockerId") == {
        "type": "string",
        "description": f"A parcel locker.\n\n{rule}",
    }
    assert parcel_property(sample, "address") == {
        **ref("sample.v1.Address"),
        "description": f"A street address.\n\n{rule}",
    }
    assert schema(sample, "sample.v1.Parcel")["description"] == (
        f"Parcel is one thing on a shelf.\n\nWhere the parcel goes. {rule}"
    )
    # A proto3 `optional` field sits in a synthetic oneof that is no choice.
    assert parcel_property(sample, "nickname") == {"type": "string"}


def test_timestamps_durations_and_field_masks_are_strings(sample: Document) -> None:
    assert parcel_property(sample, "createTime") == {
        "type": "string",
        "format": "date-time",
        "readOnly": True,
    }
    assert parcel_property(sample, "shelfLife") == {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": "How long it may stay.\n\nA duration in seconds with up to nine "
        'fractional digits and an `s` suffix, for example `"1.5s"`.',
    }
    update_body = request_schema(sample, "/v1/parcels/{parcel.id}", "patch")
    assert update_body["properties"]["updateMask"]["type"] == "string"


def test_wrappers_are_their_scalar_or_null(sample: Document) -> None:
    assert parcel_property(sample, "declaredValue") == {
        "type": ["string", "null"],
        "format": "int64",
    }
    assert parcel_property(sample, "insured") == {"type": ["boolean", "null"]}


def test_any_struct_value_list_value_and_empty_use_their_json_forms(sample: Document) -> None:
    extension = parcel_property(sample, "extension")
    assert extension["type"] == "object"
    assert extension["required"] == ["@type"]
    assert extension["properties"]["@type"]["type"] == "string"
    assert extension["additionalProperties"] is True
    assert parcel_property(sample, "attributes") == {
        "type": "object",
        "additionalProperties": True,
    }
    assert parcel_property(sample, "note") == {}
    assert parcel_property(sample, "history") == {"type": "array", "items": {}}
    assert ok_content(sample, "/v1/parcels/{parcel_id}", "delete") == {
        "application/json": {"schema": {"type": "object", "properties": {}}}
    }


def test_field_behavior_maps_to_required_read_only_and_write_only(sample: Document) -> None:
    assert schema(sample, "sample.v1.Parcel")["required"] == ["size"]
    assert parcel_property(sample, "id") == {
        "type": "string",
        "description": "The parcel id.",
        "readOnly": True,
    }
    assert parcel_property(sample, "pickupCode") == {
        "type": "string",
        "description": "Only ever written.",
        "writeOnly": True,
    }


def test_a_client_stream_takes_a_json_array_of_request_messages(sample: Document) -> None:
    body = operation(sample, "/v1/parcels:import", "post")["requestBody"]
    assert body["content"] == {
        "application/json": {
            "schema": {"type": "array", "items": ref("sample.v1.ImportParcelsRequest")}
        }
    }
    assert "array" in body["description"]
    assert ok_content(sample, "/v1/parcels:import", "post") == {
        "application/json": {"schema": ref("sample.v1.ImportParcelsResponse")}
    }


def test_a_server_stream_answers_with_server_sent_events_of_one_message(
    sample: Document,
) -> None:
    ok = operation(sample, "/v1/parcels/{parcel_id}:watch", "get")["responses"]["200"]
    assert ok["content"] == {"text/event-stream": {"schema": ref("sample.v1.ParcelEvent")}}
    assert "`data:` line of each event is one message" in ok["description"]


def test_a_bidirectional_stream_applies_both_rules(sample: Document) -> None:
    assert request_schema(sample, "/v1/robot:converse", "post") == {
        "type": "array",
        "items": ref("sample.v1.Utterance"),
    }
    assert ok_content(sample, "/v1/robot:converse", "post") == {
        "text/event-stream": {"schema": ref("sample.v1.Utterance")}
    }


def test_every_error_is_a_google_rpc_status(sample: Document) -> None:
    for methods in sample["paths"].values():
        for op in methods.values():
            assert op["responses"]["default"]["content"] == {
                "application/json": {"schema": ref("google.rpc.Status")}
            }
    status = schema(sample, "google.rpc.Status")["properties"]
    assert status["code"]["type"] == "integer"
    assert status["message"]["type"] == "string"
    assert status["details"]["type"] == "array"
    assert status["details"]["items"]["required"] == ["@type"]


def test_error_details_are_component_schemas(sample: Document) -> None:
    schemas = sample["components"]["schemas"]
    assert {"google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo"} <= set(schemas)
    assert schemas["google.rpc.RetryInfo"]["properties"]["retryDelay"]["type"] == "string"
    assert schemas["google.rpc.ErrorInfo"]["properties"]["metadata"]["additionalProperties"] == {
        "type": "string"
    }


def test_every_operation_needs_a_bearer_token_except_anonymous_methods(
    sample: Document,
) -> None:
    assert sample["security"] == [{"bearerAuth": []}]
    anonymous = {
        op["operationId"]
        for methods in sample["paths"].values()
        for op in methods.values()
        if op.get("security") == []
    }
    assert anonymous == {"ShelfService_GetParcel"}


def test_a_descriptor_set_without_status_still_documents_errors() -> None:
    document = build_document(_hand_built_descriptor_set(), anonymous_methods=frozenset())
    validate(document)
    assert "google.rpc.Status" in document["components"]["schemas"]
    ping = operation(document, "/v1/pings/{ping_id}", "get")
    assert ping["parameters"][0]["name"] == "ping_id"
    assert ping["parameters"][1]["name"] == "replyTo"


def test_path_templates_keep_multi_segment_variables_in_one_parameter() -> None:
    template = parse_path_template("/v1/{name=shelves/*/parcels/**}:move")
    assert template.openapi_path == "/v1/{name}:move"
    assert template.variables == (
        PathVariable("name", "shelves/*/parcels/**", "^shelves/[^/]+/parcels/.+$"),
    )


@pytest.mark.parametrize("template", ["v1/things", "/v1/*/things", "/v1/{x", "/v1//x"])
def test_malformed_or_unbound_path_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="template"):
        parse_path_template(template)


def _hand_built_descriptor_set() -> bytes:
    """A one-RPC set without source info, json_name or google/rpc files."""
    text = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    file = descriptor_pb2.FileDescriptorProto(name="ping.proto", package="ping.v1", syntax="proto3")
    file.message_type.add(name="Ping").field.extend(
        [
            descriptor_pb2.FieldDescriptorProto(
                name="ping_id", number=1, type=text, label=optional
            ),
            descriptor_pb2.FieldDescriptorProto(
                name="reply_to", number=2, type=text, label=optional
            ),
        ]
    )
    method = file.service.add(name="PingService").method.add(
        name="GetPing", input_type=".ping.v1.Ping", output_type=".ping.v1.Ping"
    )
    method.options.Extensions[HTTP_RULE].CopyFrom(http_pb2.HttpRule(get="/v1/pings/{ping_id}"))
    return descriptor_pb2.FileDescriptorSet(file=[file]).SerializeToString()


# The contract's buf.validate rules, carried into the document the edge serves.
TEXT = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"


def property_of(document: Document, message: str, name: str) -> Document:
    found: Document = schema(document, message)["properties"][name]
    return found


def test_text_fields_carry_the_no_control_characters_pattern_and_their_lengths(
    lastmile: Document,
) -> None:
    address = property_of(lastmile, "lastmile.common.v1.Stop", "address")
    assert (address["minLength"], address["maxLength"], address["pattern"]) == (1, 500, TEXT)
    assert address["allOf"] == [{"pattern": "^$|\\S"}]  # not blank
    instructions = property_of(lastmile, "lastmile.common.v1.Stop", "instructions")
    assert (instructions["maxLength"], instructions["pattern"]) == (500, TEXT)
    assert "minLength" not in instructions
    description = property_of(lastmile, "lastmile.common.v1.Parcel", "description")
    assert (description["maxLength"], description["pattern"]) == (500, TEXT)
    cancel = request_schema(lastmile, "/v1/deliveries/{delivery_id}:cancel", "post")
    reason = cancel["properties"]["reason"]
    assert (reason["maxLength"], reason["pattern"]) == (500, TEXT)
    # The pattern means what the CEL rule means (Python's re reads \\u escapes too).
    assert re.search(TEXT, "Torstraße 1, ring twice") is not None
    assert all(re.search(TEXT, f"a{c}b") is None for c in ("\x00", "\n", "\x7f", "\x9f"))


def test_phones_are_e164_and_required_fields_are_required(lastmile: Document) -> None:
    contact = schema(lastmile, "lastmile.common.v1.Contact")
    assert contact["properties"]["phone"]["pattern"] == "^\\+[1-9][0-9]{6,14}$"
    assert contact["required"] == ["name", "phone"]
    assert schema(lastmile, "lastmile.common.v1.Parcel")["required"] == ["size", "weightGrams"]
    weight = property_of(lastmile, "lastmile.common.v1.Parcel", "weightGrams")
    assert (weight["exclusiveMinimum"], weight["maximum"]) == (0, 30000)


def test_coordinates_carry_their_ranges(lastmile: Document) -> None:
    latitude = property_of(lastmile, "lastmile.common.v1.GeoPoint", "latitude")
    longitude = property_of(lastmile, "lastmile.common.v1.GeoPoint", "longitude")
    assert (latitude["minimum"], latitude["maximum"]) == (-90, 90)
    assert (longitude["minimum"], longitude["maximum"]) == (-180, 180)


def test_enums_leave_out_their_unspecified_value_where_requests_carry_them(
    lastmile: Document,
) -> None:
    size = property_of(lastmile, "lastmile.common.v1.Parcel", "size")
    assert "PARCEL_SIZE_UNSPECIFIED" not in size["enum"]
    assert "PARCEL_SIZE_SMALL" in size["enum"]
    statuses = {
        p["name"]: p["schema"] for p in operation(lastmile, "/v1/deliveries", "get")["parameters"]
    }
    assert "DELIVERY_STATUS_UNSPECIFIED" not in statuses["statuses"]["items"]["enum"]
    assert statuses["pageSize"]["minimum"] == 0


def test_registration_allows_only_self_service_roles_but_responses_any_role(
    lastmile: Document,
) -> None:
    account = property_of(lastmile, "lastmile.identity.v1.CreateAccountRequest", "account")
    assert account["properties"]["role"]["enum"] == [
        "ROLE_CUSTOMER",
        "ROLE_MERCHANT",
        "ROLE_COURIER",
    ]
    assert "enum" not in property_of(lastmile, "lastmile.identity.v1.Account", "role")


def test_a_required_oneof_is_exactly_one_of_its_members(lastmile: Document) -> None:
    connect = schema(lastmile, "lastmile.fleet.v1.ConnectRequest")
    assert {"required": ["heartbeat"]} in connect["oneOf"]
    assert len(connect["oneOf"]) == 8
    assert "Exactly one of" in connect["description"]
    locations = property_of(lastmile, "lastmile.fleet.v1.LocationUpdate", "locations")
    assert (locations["minItems"], locations["maxItems"]) == (1, 100)
