"""A FileDescriptorSet indexed by full proto name, with the source comment of each element.

Generators (OpenAPI, Envoy config) read messages, enums, services and their options from here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from google.api import annotations_pb2, field_behavior_pb2, http_pb2
from google.protobuf import descriptor_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.containers import RepeatedScalarFieldContainer
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# The googleapis stubs declare extension handles as plain FieldDescriptors; these casts give
# `Extensions[...]` its real value types. Importing annotations_pb2 and field_behavior_pb2 also
# registers both extensions, so parsing a descriptor set decodes them instead of keeping bytes.
HTTP_RULE = cast(
    "_ExtensionFieldDescriptor[descriptor_pb2.MethodOptions, http_pb2.HttpRule]",
    annotations_pb2.http,
)
FIELD_BEHAVIOR = cast(
    "_ExtensionFieldDescriptor[descriptor_pb2.FieldOptions, RepeatedScalarFieldContainer[int]]",
    field_behavior_pb2.field_behavior,
)

# SourceCodeInfo paths are made of the field numbers of descriptor.proto.
_FILE_MESSAGES, _FILE_ENUMS, _FILE_SERVICES = 4, 5, 6
_MESSAGE_FIELDS, _MESSAGE_NESTED, _MESSAGE_ENUMS, _MESSAGE_ONEOFS = 2, 3, 4, 8
_ENUM_VALUES = 2
_SERVICE_METHODS = 2

_Locations = dict[tuple[int, ...], descriptor_pb2.SourceCodeInfo.Location]


class ProtoCatalog:
    """The messages, enums and services of a descriptor set, by full name (no leading dot)."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        # Keyed by full name; fields, oneofs, enum values and methods as "<parent>.<name>".
        self._comments: dict[str, str] = {}
        for file in files:
            self.add_file(file)

    @classmethod
    def from_descriptor_set(cls, descriptor_set: bytes) -> ProtoCatalog:
        return cls(descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file)

    def add_file(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        locations: _Locations = {
            tuple(location.path): location for location in file.source_code_info.location
        }
        scope = file.package
        self._add_messages(file.message_type, scope, (_FILE_MESSAGES,), locations)
        self._add_enums(file.enum_type, scope, (_FILE_ENUMS,), locations)
        for index, service in enumerate(file.service):
            name = _qualify(scope, service.name)
            self.services[name] = service
            path = (_FILE_SERVICES, index)
            self._remember(name, path, locations)
            for method_index, method in enumerate(service.method):
                method_path = (*path, _SERVICE_METHODS, method_index)
                self._remember(f"{name}.{method.name}", method_path, locations)

    def comment(self, full_name: str) -> str:
        """The element's leading comment (else its trailing one), without comment markers."""
        return self._comments.get(full_name, "")

    def message(self, type_name: str) -> descriptor_pb2.DescriptorProto:
        """The message named by a field's `type_name` (with or without the leading dot)."""
        return self.messages[type_name.lstrip(".")]

    def _add_messages(
        self,
        messages: Sequence[descriptor_pb2.DescriptorProto],
        scope: str,
        path: tuple[int, ...],
        locations: _Locations,
    ) -> None:
        for index, message in enumerate(messages):
            name = _qualify(scope, message.name)
            message_path = (*path, index)
            self.messages[name] = message
            self._remember(name, message_path, locations)
            for field_index, field in enumerate(message.field):
                field_path = (*message_path, _MESSAGE_FIELDS, field_index)
                self._remember(f"{name}.{field.name}", field_path, locations)
            for oneof_index, oneof in enumerate(message.oneof_decl):
                oneof_path = (*message_path, _MESSAGE_ONEOFS, oneof_index)
                self._remember(f"{name}.{oneof.name}", oneof_path, locations)
            self._add_messages(
                message.nested_type, name, (*message_path, _MESSAGE_NESTED), locations
            )
            self._add_enums(message.enum_type, name, (*message_path, _MESSAGE_ENUMS), locations)

    def _add_enums(
        self,
        enums: Sequence[descriptor_pb2.EnumDescriptorProto],
        scope: str,
        path: tuple[int, ...],
        locations: _Locations,
    ) -> None:
        for index, enum in enumerate(enums):
            name = _qualify(scope, enum.name)
            enum_path = (*path, index)
            self.enums[name] = enum
            self._remember(name, enum_path, locations)
            for value_index, value in enumerate(enum.value):
                value_path = (*enum_path, _ENUM_VALUES, value_index)
                self._remember(f"{name}.{value.name}", value_path, locations)

    def _remember(self, name: str, path: tuple[int, ...], locations: _Locations) -> None:
        location = locations.get(path)
        if location is None:
            return
        text = _clean_comment(location.leading_comments or location.trailing_comments)
        if text:
            self._comments[name] = text


def http_rule(method: descriptor_pb2.MethodDescriptorProto) -> http_pb2.HttpRule | None:
    if not method.options.HasExtension(HTTP_RULE):
        return None
    return method.options.Extensions[HTTP_RULE]


def http_bindings(method: descriptor_pb2.MethodDescriptorProto) -> list[http_pb2.HttpRule]:
    """The method's HTTP rule followed by its additional bindings; empty without a rule."""
    rule = http_rule(method)
    return [rule, *rule.additional_bindings] if rule else []


def binding_pattern(binding: http_pb2.HttpRule) -> tuple[str, str]:
    """The binding's lower-case HTTP method and path template; empty strings if it has none."""
    kind = binding.WhichOneof("pattern") or ""
    if kind == "custom":
        return binding.custom.kind.lower(), binding.custom.path
    templates = {
        "get": binding.get,
        "put": binding.put,
        "post": binding.post,
        "delete": binding.delete,
        "patch": binding.patch,
    }
    return kind, templates.get(kind, "")


def field_behaviors(field: descriptor_pb2.FieldDescriptorProto) -> frozenset[int]:
    return frozenset(field.options.Extensions[FIELD_BEHAVIOR])


def json_name(field: descriptor_pb2.FieldDescriptorProto) -> str:
    """The proto3 JSON name; protoc always fills it, hand-built descriptors may not."""
    if field.json_name:
        return field.json_name
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _qualify(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _clean_comment(raw: str) -> str:
    lines = textwrap.dedent(raw).strip("\n").splitlines()
    # protoc strips `//`, `/*` and `*/` but keeps the ` * ` gutter of block comments.
    if lines and all(line.lstrip().startswith("*") for line in lines if line.strip()):
        lines = textwrap.dedent(
            "\n".join(line.lstrip()[1:] if line.strip() else "" for line in lines)
        ).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip()
