"""JSON Schemas for proto messages and enums that follow the proto3 JSON mapping exactly.

Used by gateway.openapi for request bodies, responses, parameters and components/schemas.
"""

from __future__ import annotations

import copy
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from gateway import openapi_rules
from gateway.proto_catalog import ProtoCatalog, field_behaviors, json_name

Schema = dict[str, Any]
REF_PREFIX = "#/components/schemas/"

_Field = descriptor_pb2.FieldDescriptorProto

_INT32: Schema = {"type": "integer", "format": "int32"}
_UINT32: Schema = {"type": "integer", "format": "uint32", "minimum": 0}
# proto3 JSON writes 64-bit integers as strings: JavaScript numbers lose precision past 2^53.
_INT64: Schema = {"type": "string", "format": "int64"}
_UINT64: Schema = {"type": "string", "format": "uint64"}
_BYTES: Schema = {"type": "string", "contentEncoding": "base64"}

_SCALARS: dict[int, Schema] = {
    _Field.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _Field.TYPE_FLOAT: {"type": "number", "format": "float"},
    _Field.TYPE_INT32: _INT32,
    _Field.TYPE_SINT32: _INT32,
    _Field.TYPE_SFIXED32: _INT32,
    _Field.TYPE_UINT32: _UINT32,
    _Field.TYPE_FIXED32: _UINT32,
    _Field.TYPE_INT64: _INT64,
    _Field.TYPE_SINT64: _INT64,
    _Field.TYPE_SFIXED64: _INT64,
    _Field.TYPE_UINT64: _UINT64,
    _Field.TYPE_FIXED64: _UINT64,
    _Field.TYPE_BOOL: {"type": "boolean"},
    _Field.TYPE_STRING: {"type": "string"},
    _Field.TYPE_BYTES: _BYTES,
}

_SIGNED_INTEGERS = (
    _Field.TYPE_INT32, _Field.TYPE_SINT32, _Field.TYPE_SFIXED32,
    _Field.TYPE_INT64, _Field.TYPE_SINT64, _Field.TYPE_SFIXED64,
)  # fmt: skip
_UNSIGNED_INTEGERS = (
    _Field.TYPE_UINT32,
    _Field.TYPE_FIXED32,
    _Field.TYPE_UINT64,
    _Field.TYPE_FIXED64,
)
# Map keys are always JSON strings; these say which strings a non-string key type allows.
_MAP_KEY_NAMES: dict[int, Schema] = {
    **{key: {"pattern": "^-?[0-9]+$"} for key in _SIGNED_INTEGERS},
    **{key: {"pattern": "^[0-9]+$"} for key in _UNSIGNED_INTEGERS},
    _Field.TYPE_BOOL: {"enum": ["true", "false"]},
}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


_WRAPPERS: dict[str, Schema] = {
    "google.protobuf.DoubleValue": _SCALARS[_Field.TYPE_DOUBLE],
    "google.protobuf.FloatValue": _SCALARS[_Field.TYPE_FLOAT],
    "google.protobuf.Int64Value": _INT64,
    "google.protobuf.UInt64Value": _UINT64,
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _UINT32,
    "google.protobuf.BoolValue": _SCALARS[_Field.TYPE_BOOL],
    "google.protobuf.StringValue": _SCALARS[_Field.TYPE_STRING],
    "google.protobuf.BytesValue": _BYTES,
}

# Well-known types whose JSON form is a single string, number or boolean: they also work as
# path and query parameters.
_SCALAR_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": "A duration in seconds with up to nine fractional digits and an `s` "
        'suffix, for example `"1.5s"`.',
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field paths in lowerCamelCase, for example "
        '`"name,address.city"`.',
    },
    **{name: _nullable(schema) for name, schema in _WRAPPERS.items()},
}

WELL_KNOWN: dict[str, Schema] = {
    **_SCALAR_WELL_KNOWN,
    "google.protobuf.Empty": {"type": "object", "properties": {}},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {
            "@type": {
                "type": "string",
                "description": "The type URL, for example "
                "`type.googleapis.com/google.rpc.ErrorInfo`. The other properties are that "
                "message's JSON fields, or `value` for a well-known type.",
            }
        },
        "required": ["@type"],
        "additionalProperties": True,
    },
}

_NULL_VALUE = "google.protobuf.NullValue"


class SchemaRegistry:
    """Builds schemas for proto types and collects the named ones they use as components."""

    def __init__(self, catalog: ProtoCatalog) -> None:
        self._catalog = catalog
        self._wanted: set[str] = set()
        # Request messages: only their schemas narrow nested enums to what may be sent.
        self._requests = {
            method.input_type.lstrip(".")
            for service in catalog.services.values()
            for method in service.method
        }

    def named_schema(self, full_name: str) -> Schema:
        """The schema of a message or enum: inline for well-known types, else a $ref."""
        if full_name in WELL_KNOWN:
            return copy.deepcopy(WELL_KNOWN[full_name])
        if full_name == _NULL_VALUE:
            return {"type": "null"}
        if full_name not in self._catalog.messages and full_name not in self._catalog.enums:
            raise ValueError(f"{full_name} is not in the descriptor set (--include_imports?)")
        self._wanted.add(full_name)
        return {"$ref": REF_PREFIX + full_name}

    def components(self) -> dict[str, Schema]:
        """Every named schema referenced so far, and the ones those reference in turn."""
        built: dict[str, Schema] = {}
        while pending := self._wanted - built.keys():
            for name in sorted(pending):
                built[name] = (
                    self._enum_schema(name)
                    if name in self._catalog.enums
                    else self.message_schema(name)
                )
        return dict(sorted(built.items()))

    def message_schema(self, full_name: str, omit: frozenset[str] = frozenset()) -> Schema:
        """The object schema of a message, leaving out the (dotted, proto-named) `omit` paths."""
        if full_name in WELL_KNOWN:
            return copy.deepcopy(WELL_KNOWN[full_name])
        message = self._catalog.messages[full_name]
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for field in message.field:
            if field.name in omit:
                continue
            prefix = field.name + "."
            nested_omit = frozenset(
                path.removeprefix(prefix) for path in omit if path.startswith(prefix)
            )
            properties[json_name(field)] = self.field_schema(full_name, field, nested_omit)
            if full_name in self._requests:
                self._narrow_nested_enums(properties[json_name(field)], field)
            if is_required(field):
                required.append(json_name(field))
        schema: Schema = {"type": "object", "properties": properties}
        description = paragraphs(self._catalog.comment(full_name), *self._oneof_notes(full_name))
        if description:
            schema["description"] = description
        if required:
            schema["required"] = required
        exactly_one = [
            [json_name(member) for member in members if member.name not in omit]
            for index, members in sorted(_oneof_members(message).items())
            if openapi_rules.oneof_is_required(message.oneof_decl[index])
        ]
        if len(exactly_one) == 1:
            schema["oneOf"] = [{"required": [name]} for name in exactly_one[0]]
        elif exactly_one:
            schema["allOf"] = [
                {"oneOf": [{"required": [name]} for name in names]} for names in exactly_one
            ]
        if message.options.deprecated:
            schema["deprecated"] = True
        return schema

    def field_schema(self, owner: str, field: _Field, omit: frozenset[str] = frozenset()) -> Schema:
        """A field as a documented property of its message `owner`."""
        if omit and not self.is_map(field):
            schema = self.message_schema(field.type_name.lstrip("."), omit)
            schema.pop("description", None)
        else:
            schema = self.value_schema(field, narrow_enums=owner in self._requests)
        description = paragraphs(
            self._catalog.comment(f"{owner}.{field.name}"),
            self._oneof_membership(owner, field),
            schema.get("description", ""),
        )
        if description:
            schema["description"] = description
        behaviors = field_behaviors(field)
        if field_behavior_pb2.OUTPUT_ONLY in behaviors:
            schema["readOnly"] = True
        if field_behavior_pb2.INPUT_ONLY in behaviors:
            schema["writeOnly"] = True
        if field.options.deprecated:
            schema["deprecated"] = True
        return schema

    def value_schema(self, field: _Field, *, narrow_enums: bool = True) -> Schema:
        """The JSON value of a field with the contract's rules, without its documentation."""
        schema = self._plain_value_schema(field)
        if self.is_map(field):
            return schema
        return openapi_rules.constrain(
            schema, field, self._enum_of(field), narrow_enums=narrow_enums
        )

    def _enum_of(self, field: _Field) -> descriptor_pb2.EnumDescriptorProto | None:
        if field.type != _Field.TYPE_ENUM:
            return None
        return self._catalog.enums.get(field.type_name.lstrip("."))

    def _narrow_nested_enums(
        self, schema: Schema, field: _Field, visiting: frozenset[str] = frozenset()
    ) -> None:
        """Beside a request field's $ref, the `in` lists of the message it refers to (a
        shared component, which responses use too), as sibling `properties`."""
        if field.type != _Field.TYPE_MESSAGE or field.label == _Field.LABEL_REPEATED:
            return
        name = field.type_name.lstrip(".")
        message = self._catalog.messages.get(name)
        if message is None or name in visiting or name in WELL_KNOWN:
            return
        narrowed: dict[str, Schema] = {}
        for nested in message.field:
            enum = self._enum_of(nested)
            allowed = openapi_rules.narrowed_enum(nested, enum) if enum is not None else None
            if allowed is not None:
                narrowed[json_name(nested)] = {"enum": allowed}
                continue
            inner: Schema = {}
            self._narrow_nested_enums(inner, nested, visiting | {name})
            if inner:
                narrowed[json_name(nested)] = inner
        if narrowed:
            schema["properties"] = narrowed

    def _plain_value_schema(self, field: _Field) -> Schema:
        if self.is_map(field):
            entry = self._catalog.message(field.type_name)
            key, value = entry.field
            schema: Schema = {"type": "object", "additionalProperties": self._single(value)}
            if key.type in _MAP_KEY_NAMES:
                schema["propertyNames"] = dict(_MAP_KEY_NAMES[key.type])
            return schema
        if field.label == _Field.LABEL_REPEATED:
            return {"type": "array", "items": self._single(field)}
        return self._single(field)

    def is_map(self, field: _Field) -> bool:
        if field.label != _Field.LABEL_REPEATED or field.type != _Field.TYPE_MESSAGE:
            return False
        entry = self._catalog.messages.get(field.type_name.lstrip("."))
        return entry is not None and entry.options.map_entry

    def is_scalar_like(self, field: _Field) -> bool:
        """Whether a field's JSON value is a string, number or boolean (or a list of them)."""
        if field.type not in (_Field.TYPE_MESSAGE, _Field.TYPE_GROUP):
            return True
        return field.type_name.lstrip(".") in _SCALAR_WELL_KNOWN

    def _single(self, field: _Field) -> Schema:
        if field.type in (_Field.TYPE_MESSAGE, _Field.TYPE_GROUP, _Field.TYPE_ENUM):
            return self.named_schema(field.type_name.lstrip("."))
        return dict(_SCALARS[field.type])

    def _enum_schema(self, full_name: str) -> Schema:
        enum = self._catalog.enums[full_name]
        lines = []
        for value in enum.value:
            comment = " ".join(self._catalog.comment(f"{full_name}.{value.name}").split())
            lines.append(f"- `{value.name}`: {comment}" if comment else f"- `{value.name}`")
        return {
            "type": "string",
            "enum": [value.name for value in enum.value],
            "description": paragraphs(
                self._catalog.comment(full_name),
                "\n".join(lines),
                "Written as the value's name; on input the value's number is accepted too.",
            ),
        }

    def _oneof_notes(self, full_name: str) -> list[str]:
        message = self._catalog.messages[full_name]
        notes = []
        for index in sorted(_oneof_members(message)):
            comment = self._catalog.comment(f"{full_name}.{message.oneof_decl[index].name}")
            rule = _oneof_rule(message, index)
            notes.append(f"{comment} {rule}" if comment else rule)
        return notes

    def _oneof_membership(self, owner: str, field: _Field) -> str:
        if not field.HasField("oneof_index") or field.proto3_optional:
            return ""
        return _oneof_rule(self._catalog.messages[owner], field.oneof_index)


def _oneof_rule(message: descriptor_pb2.DescriptorProto, index: int) -> str:
    names = ", ".join(f"`{json_name(member)}`" for member in _oneof_members(message)[index])
    oneof = message.oneof_decl[index]
    how_many = "Exactly one" if openapi_rules.oneof_is_required(oneof) else "At most one"
    return f"{how_many} of {names} is set (oneof `{oneof.name}`)."


def is_required(field: _Field) -> bool:
    return (
        field_behavior_pb2.REQUIRED in field_behaviors(field)
        or field.label == _Field.LABEL_REQUIRED
        or openapi_rules.is_rule_required(field)
    )


def _oneof_members(message: descriptor_pb2.DescriptorProto) -> dict[int, list[_Field]]:
    # proto3 `optional` fields sit in synthetic one-member oneofs that are not real choices.
    members: dict[int, list[_Field]] = {}
    for field in message.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            members.setdefault(field.oneof_index, []).append(field)
    return members


def paragraphs(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
