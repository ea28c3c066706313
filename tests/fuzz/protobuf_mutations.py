"""Malformed and mutated protobuf requests for the gRPC fuzzer, all drawn from one
seeded `random.Random`, so a CI run sends the same bytes every time.

Every method's request type comes from the descriptor set the edge serves
(gen/descriptors/lastmile.binpb), so a new method is fuzzed without a line here."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

DESCRIPTOR_SET = Path(__file__).parents[2] / "gen" / "descriptors" / "lastmile.binpb"

# Plausible values first (so mutations start from requests that pass validation), then
# the hostile ones: control characters (NUL included), long text, odd Unicode.
_STRINGS = (
    "",
    "Alexanderplatz 1, Berlin",
    "+4930123456",
    "ann@example.com",
    "a long enough password",
    "3f1c9a5e-8a0b-4c1e-9f8e-2d6c4b7a1e90",
    "NUL\x00inside",
    "\x01\x07\x1b[31m",
    "x" * 5000,
    "\u202e\ufeff\U0001f4e6",
)
_NUMBERS = (0, 1, 52, 1200, -1, 2**31 - 1, -(2**31))
_HOSTILE = (
    "NUL\x00inside",
    "\x00",
    "bell\x07escape\x1b[2J",
    "x" * 70_000,
    "\u202egnp.exe",
    "\ud7ff\ufffe",
)

_STOP = {
    "address": "Alexanderplatz 1, Berlin",
    "point": {"latitude": 52.5219, "longitude": 13.4132},
    "contact": {"name": "Shop", "phone": "+4930123456"},
    "instructions": "ring twice",
}
_DELIVERY = {
    "pickup": _STOP,
    "dropoff": {**_STOP, "address": "Torstrasse 100, Berlin"},
    "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1200, "description": "books"},
    "serviceLevel": "SERVICE_LEVEL_STANDARD",
}
_TERMS = {
    "pickup": {"latitude": 52.5219, "longitude": 13.4132},
    "dropoff": {"latitude": 52.5290, "longitude": 13.4010},
    "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1200},
    "serviceLevel": "SERVICE_LEVEL_STANDARD",
}
# Requests the services accept, by method: mutating these reaches the handlers' logic
# (and the database) instead of stopping at the first validation rule.
KNOWN_GOOD: dict[str, dict[str, object]] = {
    "/lastmile.pricing.v1.PricingService/CreateQuote": {"terms": _TERMS},
    "/lastmile.orders.v1.OrdersService/CreateDelivery": {
        "delivery": _DELIVERY,
        "idempotencyKey": "fuzz-1",
    },
    "/lastmile.orders.v1.OrdersService/ImportDeliveries": {
        "idempotencyKey": "fuzz-import-1",
        "delivery": _DELIVERY,
    },
    "/lastmile.orders.v1.OrdersService/ListDeliveries": {
        "pageSize": 5,
        "statuses": ["DELIVERY_STATUS_PENDING"],
    },
    "/lastmile.orders.v1.OrdersService/CancelDelivery": {
        "deliveryId": "3f1c9a5e-8a0b-4c1e-9f8e-2d6c4b7a1e90",
        "reason": "changed my mind",
    },
    "/lastmile.identity.v1.IdentityService/CreateAccount": {
        "account": {"email": "fuzz@example.com", "displayName": "Fuzz", "role": "ROLE_CUSTOMER"},
        "password": "a long enough password",
    },
    "/lastmile.identity.v1.IdentityService/CreateSession": {
        "email": "fuzz-customer@example.com",
        "password": "a long enough password",
    },
    "/lastmile.fleet.v1.CourierSessionService/Connect": {
        "clientMessageId": "1",
        "goOnline": {
            "vehicleType": "VEHICLE_TYPE_BICYCLE",
            "location": {
                "point": {"latitude": 52.52, "longitude": 13.405},
                "recordedTime": "2026-11-29T09:30:00Z",
            },
        },
    },
}


@dataclass(frozen=True)
class Method:
    """One RPC of the contract: its full path, request type and streaming shape."""

    service: str  # lastmile.orders.v1.OrdersService
    name: str
    request: Descriptor
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def owner(self) -> str:
        """The service process that serves it: `orders` for lastmile.orders.v1.*."""
        return self.service.split(".")[1]


def contract_methods(descriptor_set: Path = DESCRIPTOR_SET) -> list[Method]:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:  # buf writes them in dependency order
        pool.Add(file)
    return [
        Method(
            f"{file.package}.{service.name}",
            method.name,
            pool.FindMessageTypeByName(method.input_type.lstrip(".")),
            method.client_streaming,
            method.server_streaming,
        )
        for file in files.file
        if file.package.startswith("lastmile.")
        for service in file.service
        for method in service.method
    ]


def seed(method: Method, rng: random.Random) -> Message:
    """A known-good request half of the time where there is one; otherwise a populated one."""
    good = KNOWN_GOOD.get(method.path)
    if good is not None and rng.random() < 0.5:
        message = message_factory.GetMessageClass(method.request)()
        return json_format.ParseDict(good, message)
    return populated(method.request, rng)


def populated(descriptor: Descriptor, rng: random.Random, depth: int = 0) -> Message:
    """A message of this type with most fields set: one member per oneof, a few items per
    repeated field, nested messages down to a depth of four."""
    message = message_factory.GetMessageClass(descriptor)()
    chosen = {oneof.name: rng.choice(oneof.fields) for oneof in descriptor.oneofs}
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen[oneof.name] is not field:
            continue
        nested = field.message_type
        if nested is not None:
            if depth >= 4 or nested.GetOptions().map_entry:
                continue
            if field.is_repeated:
                for _ in range(rng.randint(0, 2)):
                    getattr(message, field.name).add().CopyFrom(populated(nested, rng, depth + 1))
            else:
                getattr(message, field.name).CopyFrom(populated(nested, rng, depth + 1))
            continue
        values = [_scalar(field, rng) for _ in range(rng.randint(0, 2) if field.is_repeated else 1)]
        if field.is_repeated:
            getattr(message, field.name).extend(values)
        else:
            setattr(message, field.name, values[0])
    return message


def _scalar(field: FieldDescriptor, rng: random.Random) -> object:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return rng.choice(_STRINGS)
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(0, 16))
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if field.enum_type is not None:
        return rng.choice(field.enum_type.values).number
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice((0.0, 52.52, 13.405, -91.0, 1e308, float("nan")))
    unsigned = kind in (
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
    )
    number = rng.choice(_NUMBERS)
    return abs(number) if unsigned else number


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


Mutation = Callable[[random.Random, bytes, Descriptor], bytes]


def random_bytes(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    return rng.randbytes(rng.randint(1, 64))


def truncated(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    return valid[: rng.randint(0, max(0, len(valid) - 1))] if valid else b"\x0a"


def bit_flips(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    flipped = bytearray(valid or b"\x00")
    for _ in range(rng.randint(1, 4)):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    return bytes(flipped)


def wrong_wire_type(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """A declared field sent with a wire type its type does not use (a varint for a
    message, a length prefix for an int, a group marker)."""
    number, declared = _some_field(rng, descriptor)
    wire_type = rng.choice([w for w in (0, 1, 2, 3, 4, 5) if w != declared])
    payload = {0: varint(7), 1: b"\x00" * 8, 2: varint(3) + b"abc", 5: b"\x00" * 4}
    return valid + tag(number, wire_type) + payload.get(wire_type, b"")


def huge_length_prefix(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """A length-delimited field that claims far more bytes than the message holds."""
    number, _ = _some_field(rng, descriptor)
    length = rng.choice((2**31, 2**32 + 5, 2**63 - 1, 2**64 - 1))
    return valid + tag(number, 2) + varint(length) + b"abc"


def deep_nesting(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """Groups (or messages of an unknown field) nested far past any parser's limit."""
    depth = rng.choice((200, 5000))
    if rng.random() < 0.5:
        return valid + tag(19_999, 3) * depth + tag(19_999, 4) * depth
    nested = b""
    for _ in range(depth):
        nested = tag(1, 2) + varint(len(nested)) + nested
    return valid + nested


def invalid_utf8(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """A string field holding bytes that are not UTF-8 (proto3 requires UTF-8)."""
    strings = [f.number for f in descriptor.fields if f.type == FieldDescriptor.TYPE_STRING]
    number = rng.choice(strings) if strings else _some_field(rng, descriptor)[0]
    garbage = rng.choice((b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"ok\x80"))
    return valid + tag(number, 2) + varint(len(garbage)) + garbage


def unknown_fields(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """A valid message followed by fields the contract does not declare."""
    number = rng.choice((1000, 12_345, 536_870_911))
    wire_type, payload = rng.choice(
        ((0, varint(42)), (1, b"\x01" * 8), (2, varint(5) + b"hello"), (5, b"\x01" * 4))
    )
    return valid + tag(number, wire_type) + payload


def valid(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """The seed unchanged: well-formed bytes, plausible and hostile values."""
    return valid


def hostile_text(rng: random.Random, valid: bytes, descriptor: Descriptor) -> bytes:
    """One string field, anywhere in the message, replaced by control characters (NUL
    included), text far beyond any limit, or odd Unicode; the rest left as it was."""
    message = message_factory.GetMessageClass(descriptor).FromString(valid)
    targets = list(_string_fields(message))
    if not targets:
        return valid
    owner, name = rng.choice(targets)
    setattr(owner, name, rng.choice(_HOSTILE))
    return message.SerializeToString()


def _string_fields(message: Message) -> Iterator[tuple[Message, str]]:
    for field in message.DESCRIPTOR.fields:
        if field.is_repeated:
            continue
        if field.message_type is not None:
            if message.HasField(field.name):
                yield from _string_fields(getattr(message, field.name))
        elif field.type == FieldDescriptor.TYPE_STRING:
            yield message, field.name


def _some_field(rng: random.Random, descriptor: Descriptor) -> tuple[int, int]:
    """A declared field's number and wire type (field 1, length-delimited, if none)."""
    if not descriptor.fields:
        return 1, 2
    field = rng.choice(descriptor.fields)
    return field.number, 2 if field.type in _LENGTH_DELIMITED or field.is_packed else 0


_LENGTH_DELIMITED = frozenset(
    {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE}
)

MUTATIONS: dict[str, Mutation] = {
    mutation.__name__: mutation
    for mutation in (
        valid,
        hostile_text,
        random_bytes,
        truncated,
        bit_flips,
        wrong_wire_type,
        huge_length_prefix,
        deep_nesting,
        invalid_utf8,
        unknown_fields,
    )
}


def mutated_requests(
    method: Method, mutation: Mutation, rng: random.Random, count: int
) -> Iterator[bytes]:
    for _ in range(count):
        yield mutation(rng, seed(method, rng).SerializeToString(), method.request)
