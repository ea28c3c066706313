"""Bytes that are not the method's request message are bad input, refused with
INVALID_ARGUMENT before the handler sees them, for single requests and request streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import grpc
import pytest
from google.protobuf import timestamp_pb2

from services.runtime.config import ServiceSettings
from services.runtime.server import ServiceBinding, ServiceHost
from tests.servers import raw_stream_stream, raw_unary, serving

SERVICE = "lastmile.test.v1.ParsingService"
Timestamp = timestamp_pb2.Timestamp
# A length-delimited field 1 that claims more bytes than follow: never a valid message.
CORRUPT = b"\x0a\xff\xff\xff\xff\x0f"


class ParsingSettings(ServiceSettings):
    service_name: ClassVar[str] = "parsing"

    admin_port: int = -1
    shutdown_grace_seconds: float = 2.0


class Parsing:
    """Echoes timestamps, one second later; counts what reached it."""

    def __init__(self) -> None:
        self.handled = 0

    async def later(self, request: Timestamp, ctx: Any) -> Timestamp:
        self.handled += 1
        return Timestamp(seconds=request.seconds + 1)

    async def each_later(
        self, requests: AsyncIterator[Timestamp], ctx: Any
    ) -> AsyncIterator[Timestamp]:
        async for request in requests:
            self.handled += 1
            yield Timestamp(seconds=request.seconds + 1)


def _register(parsing: Parsing, server: grpc.aio.Server) -> None:
    codec: dict[str, Any] = {
        "request_deserializer": Timestamp.FromString,
        "response_serializer": Timestamp.SerializeToString,
    }
    handlers = {
        "Later": grpc.unary_unary_rpc_method_handler(parsing.later, **codec),
        "EachLater": grpc.stream_stream_rpc_method_handler(parsing.each_later, **codec),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


async def read_until_refused(
    call: grpc.aio.StreamStreamCall[bytes, bytes], answers: list[int]
) -> grpc.aio.AioRpcError:
    try:
        async for answer in call:
            answers.append(Timestamp.FromString(answer).seconds)
    except grpc.aio.AioRpcError as refusal:
        return refusal
    raise AssertionError(f"the stream ended without an error after {answers}")


def parsing_host() -> tuple[ServiceHost, Parsing]:
    parsing = Parsing()
    binding = ServiceBinding(SERVICE, parsing, _register)
    return ServiceHost(ParsingSettings(), bindings=[binding]), parsing


async def test_a_request_that_does_not_parse_is_invalid_and_never_reaches_the_handler() -> None:
    host, parsing = parsing_host()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await raw_unary(channel, f"/{SERVICE}/Later")(CORRUPT)
        answer = await raw_unary(channel, f"/{SERVICE}/Later")(
            Timestamp(seconds=41).SerializeToString()
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "google.protobuf.Timestamp" in (refused.value.details() or "")
    assert Timestamp.FromString(answer).seconds == 42
    assert parsing.handled == 1


async def test_a_stream_is_refused_as_invalid_at_its_first_message_that_does_not_parse() -> None:
    host, parsing = parsing_host()
    good = Timestamp(seconds=1).SerializeToString()
    async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
        call = raw_stream_stream(channel, f"/{SERVICE}/EachLater")(iter([good, CORRUPT, good]))
        answers: list[int] = []
        refusal = await read_until_refused(call, answers)
    assert refusal.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert answers == [2]
    assert parsing.handled == 1
