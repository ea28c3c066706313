"""Request validation: the `buf.validate` rules written in the contracts, enforced by
protovalidate before any handler runs, and each violation turned into a FieldViolation
named by its path in the request (`terms.pickup.latitude`, `statuses[1]`).

The rules live only in `protos/`; the OpenAPI document is generated from the same
annotations, so what the schema allows is what this module lets through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import protovalidate
from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from services.runtime.errors import FieldViolation, InvalidArgument

MessageT = TypeVar("MessageT")
_ENUM_RULES = frozenset({"enum.defined_only", "enum.in", "enum.not_in"})
_VALUE_PREFIX = "value "  # protovalidate's messages start so; ours name the field instead


@dataclass(frozen=True, slots=True)
class InvalidMessage(Generic[MessageT]):
    """A message of a request stream that broke the contract's rules, handed to a
    handler that answers each message on its own instead of failing the whole call."""

    message: MessageT
    error: InvalidArgument


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """Request bytes that do not decode as the method's message type (a truncated or
    corrupt message, bad UTF-8 in a string field). grpc.aio would answer UNKNOWN with the
    parser's exception text; the pipeline answers INVALID_ARGUMENT instead."""

    error: InvalidArgument


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`deserializer`, returning a MalformedRequest where it would raise DecodeError."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError as failure:
            return MalformedRequest(
                InvalidArgument([], message=f"the request could not be decoded: {failure}")
            )

    return deserialize


class RequestValidation:
    """One protovalidate Validator for the process: it compiles each message type's
    rules once and reuses them for every call."""

    def __init__(self) -> None:
        self._validator = protovalidate.Validator()

    def error(self, message: object) -> InvalidArgument | None:
        """INVALID_ARGUMENT naming every field `message` gets wrong; None when it is valid
        (or is not a protobuf message at all, as for raw-bytes handlers)."""
        if isinstance(message, MalformedRequest):
            return message.error
        if not isinstance(message, Message):
            return None
        found = self._validator.collect_violations(message)
        if not found:
            return None
        return InvalidArgument(_field_violations(message.DESCRIPTOR, (v.proto for v in found)))

    def check(self, message: object) -> None:
        """Raise the INVALID_ARGUMENT of `message`, if it breaks any rule."""
        error = self.error(message)
        if error is not None:
            raise error

    def stream(self, messages: Any, *, per_message: bool) -> ValidatedStream:
        """`messages` (a request stream) validated one by one as the handler reads it."""
        return ValidatedStream(self, messages, per_message)


class ValidatedStream:
    """A request stream that validates each message as it is read. An invalid message
    fails the call (raised into the handler, which the pipeline maps to
    INVALID_ARGUMENT), or, with `per_message`, is handed over as an InvalidMessage so
    that the handler answers it alone and the stream goes on.

    A plain async iterator rather than an async generator: it holds no frame of its
    own, so a handler that stops reading leaves nothing to finalise.
    """

    __slots__ = ("_messages", "_per_message", "_reading", "_validation")

    def __init__(self, validation: RequestValidation, messages: Any, per_message: bool) -> None:
        self._validation = validation
        self._messages = messages
        self._reading: AsyncIterator[Any] | None = None
        self._per_message = per_message

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._reading is None:
            # Only on the first read: grpc's request iterator starts a receiver when asked
            # for its iterator, which must not be left unawaited by a handler that never reads.
            self._reading = aiter(self._messages)
        message = await anext(self._reading)
        error = self._validation.error(message)
        if error is None:
            return message
        if self._per_message and not isinstance(message, MalformedRequest):
            return InvalidMessage(message, error)
        # Bytes that are no message at all carry no id to answer: the stream ends.
        raise error


def _field_violations(root: Any, found: Iterable[Any]) -> list[FieldViolation]:
    """Each violation (a buf.validate.Violation) as its field path and a description
    that completes the sentence "<path> ..."; two rules that say the same of one field
    (an undefined enum value outside the allowed list) are reported once."""
    violations: dict[tuple[str, str], FieldViolation] = {}
    for violation in found:
        elements = list(violation.field.elements)
        path = ".".join(_element_name(element) for element in elements)
        description = violation.message
        if description.startswith(_VALUE_PREFIX):
            description = description[len(_VALUE_PREFIX) :]
        if violation.rule_id in _ENUM_RULES:
            field = _field_at(root, elements)
            if field is not None and field.enum_type is not None:
                description = "must be one of " + ", ".join(_allowed(field))
        violations.setdefault((path, description), FieldViolation(path, description))
    return list(violations.values())


def _element_name(element: Any) -> str:
    subscript = element.subscript
    if subscript is None:
        return str(element.field_name)
    key = subscript.value
    if isinstance(key, str):
        return f'{element.field_name}["{key}"]'
    return f"{element.field_name}[{key}]"


def _field_at(root: Any, elements: Iterable[Any]) -> FieldDescriptor | None:
    descriptor: Descriptor | None = root
    field: FieldDescriptor | None = None
    for element in elements:
        if descriptor is None:
            return None
        field = descriptor.fields_by_name.get(element.field_name)
        if field is None:
            return None
        descriptor = field.message_type
    return field


def _allowed(field: FieldDescriptor) -> list[str]:
    """The value names the field's enum rules let through (`in`, `not_in`)."""
    enum = field.enum_type
    assert enum is not None
    rules = field.GetOptions().Extensions[validate_pb2.field]
    enum_rules = rules.repeated.items.enum if rules.HasField("repeated") else rules.enum
    only = set(getattr(enum_rules, "in"))
    refused = set(enum_rules.not_in)
    return [
        value.name
        for value in enum.values
        if (not only or value.number in only) and value.number not in refused
    ]


# The process's one validator, shared by every server it hosts.
REQUESTS = RequestValidation()
