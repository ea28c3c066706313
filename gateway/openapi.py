"""Builds the OpenAPI 3.1 document of the public REST API from the gateway's descriptor set.

Each google.api.http binding becomes one operation, described as Envoy's grpc_json_transcoder
serves it: proto3 JSON bodies, Server-Sent Events for server streams, google.rpc.Status errors.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from google.api import field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2
from google.rpc import status_pb2

from gateway.access import ANONYMOUS_METHODS
from gateway.openapi_schema import REF_PREFIX, Schema, SchemaRegistry, is_required, paragraphs
from gateway.path_template import PathVariable, parse_path_template
from gateway.proto_catalog import (
    ProtoCatalog,
    binding_pattern,
    field_behaviors,
    http_bindings,
    http_rule,
    json_name,
)

_Field = descriptor_pb2.FieldDescriptorProto

_STATUS = "google.rpc.Status"
_ERROR_DETAILS_PACKAGE = "google.rpc."
_SECURITY_SCHEME = "bearerAuth"
# OpenAPI has operations for these methods only; a `custom` rule naming another one is refused.
_OPENAPI_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

_INFO = {
    "title": "Lastmile API",
    "version": "v1",
    "description": (
        "The public REST/JSON API of Lastmile, the last-mile delivery platform. The edge "
        "transcodes every call to a gRPC method, so bodies follow the proto3 JSON mapping: "
        "fields are lowerCamelCase (the proto snake_case names are accepted on input too), "
        "64-bit integers are strings, enums are value names, timestamps are RFC 3339 strings "
        "and absent fields take their default value. A failed call answers with a "
        "google.rpc.Status whose HTTP status follows the gRPC code. Server-streaming "
        "operations answer with Server-Sent Events, and client-streaming operations take a "
        "JSON array of messages. Every operation needs a bearer JWT unless it says otherwise."
    ),
}

_ERROR_RESPONSE = {
    "description": (
        "The call failed. The body is the gRPC status as JSON, and the HTTP status code "
        "follows the gRPC code (INVALID_ARGUMENT is 400, NOT_FOUND is 404, and so on). "
        "`details` carries typed error details such as google.rpc.ErrorInfo, whose `reason` "
        "says what went wrong, and google.rpc.BadRequest with one violation per bad field."
    ),
    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + _STATUS}}},
}

_SSE_DESCRIPTION = (
    "A stream of Server-Sent Events. The `data:` line of each event is one message of this "
    "schema, in JSON; the stream ends when the call does."
)
_CLIENT_STREAM_DESCRIPTION = (
    "A JSON array; the edge sends each element as one message of the client stream."
)


@dataclass(frozen=True)
class _Rpc:
    """One method of a service, with the names the document derives from it."""

    service: str  # full name, for example lastmile.pricing.v1.PricingService
    method: descriptor_pb2.MethodDescriptorProto

    @property
    def short_service(self) -> str:
        return self.service.rpartition(".")[2]

    @property
    def full_method(self) -> str:
        return f"{self.service}/{self.method.name}"


def build_document(
    descriptor_set: bytes, *, anonymous_methods: frozenset[str] = ANONYMOUS_METHODS
) -> dict[str, Any]:
    """The OpenAPI document of every RPC that carries a google.api.http rule."""
    catalog = ProtoCatalog.from_descriptor_set(descriptor_set)
    if _STATUS not in catalog.messages:
        # Every operation refers to the error schema, even for a set built without it.
        status_file = descriptor_pb2.FileDescriptorProto()
        status_pb2.DESCRIPTOR.CopyToProto(status_file)
        catalog.add_file(status_file)
    operations = _Operations(catalog)
    paths: dict[str, dict[str, Schema]] = {}
    operation_ids: set[str] = set()
    tags: list[Schema] = []
    for service in sorted(catalog.services):
        rpcs = [_Rpc(service, method) for method in catalog.services[service].method]
        for rpc in (rpc for rpc in rpcs if http_rule(rpc.method) is not None):
            for path, http_method, operation in operations.of(rpc):
                if rpc.full_method in anonymous_methods:
                    operation["security"] = []
                if http_method in paths.get(path, {}):
                    raise ValueError(f"{rpc.full_method}: {http_method} {path} is bound twice")
                if operation["operationId"] in operation_ids:
                    # Two packages with a service of the same short name.
                    raise ValueError(f"{rpc.full_method}: {operation['operationId']} is taken")
                operation_ids.add(operation["operationId"])
                paths.setdefault(path, {})[http_method] = operation
        if any(http_rule(rpc.method) is not None for rpc in rpcs):
            tag: Schema = {"name": rpcs[0].short_service}
            if comment := catalog.comment(service):
                tag["description"] = comment
            tags.append(tag)
    for name, message in sorted(catalog.messages.items()):
        if name.startswith(_ERROR_DETAILS_PACKAGE) and not message.options.map_entry:
            operations.schemas.named_schema(name)
    return {
        "openapi": "3.1.0",
        "info": dict(_INFO),
        "servers": [{"url": "/"}],
        "security": [{_SECURITY_SCHEME: []}],
        "tags": tags,
        "paths": {path: dict(sorted(paths[path].items())) for path in sorted(paths)},
        "components": {
            "schemas": operations.schemas.components(),
            "securitySchemes": {
                _SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


class _Operations:
    """Describes the HTTP bindings of RPCs, collecting the schemas they use."""

    def __init__(self, catalog: ProtoCatalog) -> None:
        self.catalog = catalog
        self.schemas = SchemaRegistry(catalog)

    def of(self, rpc: _Rpc) -> list[tuple[str, str, Schema]]:
        """(OpenAPI path, HTTP method, operation) for each binding of the RPC's http rule."""
        found = []
        for index, binding in enumerate(http_bindings(rpc.method)):
            http_method, template = _pattern(binding, rpc)
            operation = self._operation(rpc, binding, template)
            # Additional bindings count from 2: the rule itself is the first.
            operation["operationId"] += f"_{index + 1}" if index else ""
            found.append((parse_path_template(template).openapi_path, http_method, operation))
        return found

    def _operation(self, rpc: _Rpc, binding: http_pb2.HttpRule, template: str) -> Schema:
        method = rpc.method
        request = method.input_type.lstrip(".")
        variables = parse_path_template(template).variables
        bound = frozenset(variable.field_path for variable in variables)
        operation: Schema = {
            "operationId": f"{rpc.short_service}_{method.name}",
            "tags": [rpc.short_service],
        }
        if comment := self.catalog.comment(f"{rpc.service}.{method.name}"):
            operation["summary"] = _first_sentence(comment)
            operation["description"] = comment
        if method.options.deprecated:
            operation["deprecated"] = True
        parameters = [self._path_parameter(rpc, request, variable) for variable in variables]
        if binding.body != "*":
            # Everything the path and the body leave unbound comes from the query string.
            unbound = bound | {binding.body} if binding.body else bound
            parameters += self._query_parameters(request, unbound)
        if parameters:
            operation["parameters"] = parameters
        if binding.body:
            operation["requestBody"] = self._request_body(rpc, binding.body, bound)
        operation["responses"] = {
            "200": self._success(rpc, binding.response_body),
            "default": copy.deepcopy(_ERROR_RESPONSE),
        }
        return operation

    def _request_body(self, rpc: _Rpc, body: str, bound: frozenset[str]) -> Schema:
        request = rpc.method.input_type.lstrip(".")
        request_body: Schema = {}
        if body == "*":
            schema = (
                self.schemas.message_schema(request, bound)
                if bound
                else self.schemas.named_schema(request)
            )
            message = self.catalog.messages.get(request)
            fields = message.field if message else []
            required = any(is_required(f) and f.name not in bound for f in fields)
        else:
            field = _resolve(rpc, request, body, self.catalog)[-1]
            schema = self.schemas.value_schema(field)
            request_body["description"] = self.catalog.comment(f"{request}.{field.name}")
            required = is_required(field)
        if rpc.method.client_streaming:
            schema = {"type": "array", "items": schema}
            request_body["description"] = paragraphs(
                request_body.get("description", ""), _CLIENT_STREAM_DESCRIPTION
            )
        request_body["content"] = {"application/json": {"schema": schema}}
        if required:
            request_body["required"] = True
        if not request_body.get("description"):
            request_body.pop("description", None)
        return request_body

    def _success(self, rpc: _Rpc, response_body: str) -> Schema:
        response = rpc.method.output_type.lstrip(".")
        if response_body:
            field = _resolve(rpc, response, response_body, self.catalog)[-1]
            schema = self.schemas.value_schema(field)
        else:
            schema = self.schemas.named_schema(response)
        if rpc.method.server_streaming:
            return {
                "description": _SSE_DESCRIPTION,
                "content": {"text/event-stream": {"schema": schema}},
            }
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}

    def _path_parameter(self, rpc: _Rpc, request: str, variable: PathVariable) -> Schema:
        chain = _resolve(rpc, request, variable.field_path, self.catalog)
        field = chain[-1]
        if field.label == _Field.LABEL_REPEATED or not self.schemas.is_scalar_like(field):
            raise ValueError(f"{rpc.full_method}: path variable {variable.field_path} not scalar")
        owner = chain[-2].type_name.lstrip(".") if len(chain) > 1 else request
        description = self.catalog.comment(f"{owner}.{field.name}")
        if variable.pattern is None:
            schema = self.schemas.value_schema(field)
        else:
            schema = {"type": "string", "pattern": variable.pattern}
            description = paragraphs(
                description,
                f"Of the form `{variable.segments}`; its `/` separators are part of the value "
                "and are sent unescaped.",
            )
        parameter: Schema = {"name": variable.field_path, "in": "path", "required": True}
        if description:
            parameter["description"] = description
        parameter["schema"] = schema
        return parameter

    def _query_parameters(
        self,
        message_name: str,
        unbound: frozenset[str],
        prefix: tuple[str, str] = ("", ""),
        required: bool = True,
        visiting: frozenset[str] = frozenset(),
    ) -> list[Schema]:
        """Every leaf field not in `unbound`, named by its dotted JSON path (`terms.parcel.size`).

        Envoy resolves query names by JSON or proto name. Maps, repeated messages and recursive
        messages cannot be spelled in a query string, and output-only fields are never read.
        `prefix` is the (proto, JSON) path of `message_name` within the request.
        """
        message = self.catalog.messages.get(message_name)
        if message is None:
            return []
        visiting = visiting | {message_name}
        parameters: list[Schema] = []
        for field in message.field:
            proto_path, json_path = prefix[0] + field.name, prefix[1] + json_name(field)
            if proto_path in unbound or _is_output_only(field) or self.schemas.is_map(field):
                continue
            field_required = required and is_required(field)
            if not self.schemas.is_scalar_like(field):
                nested = field.type_name.lstrip(".")
                if field.label != _Field.LABEL_REPEATED and nested not in visiting:
                    parameters += self._query_parameters(
                        nested,
                        unbound,
                        (proto_path + ".", json_path + "."),
                        field_required,
                        visiting,
                    )
                continue
            parameter: Schema = {"name": json_path, "in": "query"}
            if field_required:
                parameter["required"] = True
            if description := self.catalog.comment(f"{message_name}.{field.name}"):
                parameter["description"] = description
            parameter["schema"] = self.schemas.value_schema(field)
            parameters.append(parameter)
        return parameters


def _pattern(binding: http_pb2.HttpRule, rpc: _Rpc) -> tuple[str, str]:
    """The binding's lower-case HTTP method and its path template."""
    method, template = binding_pattern(binding)
    if method not in _OPENAPI_METHODS or not template:
        raise ValueError(f"{rpc.full_method}: unsupported http rule {method!r} {template!r}")
    return method, template


def _resolve(
    rpc: _Rpc, message_name: str, field_path: str, catalog: ProtoCatalog
) -> list[descriptor_pb2.FieldDescriptorProto]:
    """The fields along a dotted proto field path, outermost first."""
    chain: list[descriptor_pb2.FieldDescriptorProto] = []
    current = message_name
    for name in field_path.split("."):
        if chain:
            if chain[-1].type != _Field.TYPE_MESSAGE or chain[-1].label == _Field.LABEL_REPEATED:
                raise ValueError(f"{rpc.full_method}: {field_path} crosses a non-message field")
            current = chain[-1].type_name.lstrip(".")
        message = catalog.messages.get(current)
        field = next((f for f in message.field if f.name == name), None) if message else None
        if field is None:
            raise ValueError(f"{rpc.full_method}: {current} has no field {name!r} ({field_path})")
        chain.append(field)
    return chain


def _is_output_only(field: descriptor_pb2.FieldDescriptorProto) -> bool:
    return field_behavior_pb2.OUTPUT_ONLY in field_behaviors(field)


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", flat)
    return match.group(1) if match else flat
