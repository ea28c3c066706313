"""The contract's `buf.validate` rules as JSON Schema keywords, so that the OpenAPI
document allows exactly what the runtime (protovalidate) accepts: `required`,
`minLength`/`maxLength`, `pattern`, `minimum`/`maximum`, `minItems`/`maxItems`, enums
without their refused values, and a required oneof as exactly one member.

The predefined rules of lastmile.common.v1 (text_rules.proto) are CEL; each is written
here once more as the ECMAScript pattern that means the same.
"""

from __future__ import annotations

from typing import Any

from buf.validate import validate_pb2
from google.protobuf import descriptor_pb2

from lastmile.common.v1 import text_rules_pb2

Schema = dict[str, Any]
_Field = descriptor_pb2.FieldDescriptorProto

# Importing validate_pb2 and text_rules_pb2 registers their extensions, so parsing a
# descriptor set decodes the rules instead of keeping them as unknown bytes.
FIELD_RULES = validate_pb2.field
ONEOF_RULES = validate_pb2.oneof
# The predefined string rules, each as the pattern that accepts what its CEL accepts.
_PREDEFINED_PATTERNS: tuple[tuple[Any, str], ...] = (
    # \p{Cc}: U+0000 to U+001F and U+007F to U+009F.
    (text_rules_pb2.text, "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"),
    (text_rules_pb2.not_blank, "^$|\\S"),
    (text_rules_pb2.e164, "^\\+[1-9][0-9]{6,14}$"),
    (text_rules_pb2.idempotency_key, "^([ -~]{1,128})?$"),
)
# 64-bit integers are JSON strings, which minimum and maximum would not constrain.
_NUMBER_RULES = ("double", "float", "int32", "uint32", "sint32")


def rules_of(field: _Field) -> validate_pb2.FieldRules:
    return field.options.Extensions[FIELD_RULES]


def is_rule_required(field: _Field) -> bool:
    """Whether the contract refuses the request without this field: it is `required`,
    or its rules refuse the zero value that an absent proto3 scalar reads as."""
    rules = rules_of(field)
    if rules.required:
        return True
    if field.label == _Field.LABEL_REPEATED or field.proto3_optional:
        return False
    kind = rules.WhichOneof("type")
    if kind == "enum":
        only = set(getattr(rules.enum, "in"))
        return 0 in rules.enum.not_in or (bool(only) and 0 not in only)
    if kind in _NUMBER_RULES:
        number = getattr(rules, kind)
        return bool(
            (number.HasField("gt") and number.gt >= 0)
            or (number.HasField("gte") and number.gte > 0)
            or (number.HasField("lt") and number.lt <= 0)
            or (number.HasField("lte") and number.lte < 0)
        )
    return False


def oneof_is_required(oneof: descriptor_pb2.OneofDescriptorProto) -> bool:
    return bool(oneof.options.Extensions[ONEOF_RULES].required)


def constrain(
    schema: Schema,
    field: _Field,
    enum: descriptor_pb2.EnumDescriptorProto | None,
    *,
    narrow_enums: bool = True,
) -> Schema:
    """`schema` (a field's JSON value) with the field's rules added; `enum` is the
    field's enum type, if it has one. Without `narrow_enums`, an enum's `in` list is
    left out: a message that responses carry too (an ops Account) may hold values
    that requests may not send (ROLE_OPS on registration)."""
    rules = rules_of(field)
    if rules.HasField("repeated"):
        repeated = rules.repeated
        if repeated.HasField("min_items"):
            schema["minItems"] = repeated.min_items
        if repeated.HasField("max_items"):
            schema["maxItems"] = repeated.max_items
        if repeated.HasField("items") and "items" in schema:
            _scalar(schema["items"], repeated.items, enum, False, narrow_enums)
        return schema
    return _scalar(schema, rules, enum, rules.required, narrow_enums)


def narrowed_enum(field: _Field, enum: descriptor_pb2.EnumDescriptorProto) -> list[str] | None:
    """The values a request may send in `field`, if its rules hold an `in` list."""
    rules = rules_of(field)
    if rules.WhichOneof("type") != "enum" or not getattr(rules.enum, "in"):
        return None
    return _allowed(rules.enum, enum, narrow=True)


def _scalar(
    schema: Schema,
    rules: validate_pb2.FieldRules,
    enum: descriptor_pb2.EnumDescriptorProto | None,
    required: bool,
    narrow_enums: bool,
) -> Schema:
    kind = rules.WhichOneof("type")
    if kind == "string":
        _string(schema, rules.string, required=required)
    elif kind == "enum" and enum is not None:
        allowed = _allowed(rules.enum, enum, narrow=narrow_enums)
        if len(allowed) < len(enum.value):
            schema["enum"] = allowed
    elif kind in _NUMBER_RULES:
        _number(schema, getattr(rules, kind))
    elif required and schema.get("type") == "string":
        schema["minLength"] = 1
    return schema


def _string(schema: Schema, rules: validate_pb2.StringRules, *, required: bool) -> None:
    # proto3 JSON cannot tell an empty string from an absent one: required means non-empty.
    minimum = max(rules.min_len, 1 if required else 0)
    if minimum:
        schema["minLength"] = minimum
    if rules.HasField("max_len"):
        schema["maxLength"] = rules.max_len
    if rules.email:
        schema["format"] = "email"
    patterns = [rules.pattern] if rules.HasField("pattern") else []
    patterns += [pattern for rule, pattern in _PREDEFINED_PATTERNS if rules.Extensions[rule]]
    if patterns:
        schema["pattern"] = patterns[0]
    if len(patterns) > 1:
        schema["allOf"] = [{"pattern": pattern} for pattern in patterns[1:]]


def _number(schema: Schema, rules: Any) -> None:
    for name, keyword in (
        ("gte", "minimum"),
        ("gt", "exclusiveMinimum"),
        ("lte", "maximum"),
        ("lt", "exclusiveMaximum"),
    ):
        if rules.HasField(name):
            schema[keyword] = getattr(rules, name)


def _allowed(
    rules: validate_pb2.EnumRules, enum: descriptor_pb2.EnumDescriptorProto, *, narrow: bool
) -> list[str]:
    only = set(getattr(rules, "in")) if narrow else set()
    refused = set(rules.not_in)
    return [
        value.name
        for value in enum.value
        if (not only or value.number in only) and value.number not in refused
    ]
