"""A byte-level test service with all four RPC kinds, registered through the real
ServiceHost so that every runtime interceptor wraps it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import grpc

from services.runtime import context
from services.runtime.config import ServiceSettings
from services.runtime.draining import Drain
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.server import ServiceBinding, ServiceHost

SERVICE = "lastmile.test.v1.EchoService"
UNARY = f"/{SERVICE}/Unary"
SERVER_STREAM = f"/{SERVICE}/ServerStream"
CLIENT_STREAM = f"/{SERVICE}/ClientStream"
BIDI = f"/{SERVICE}/Bidi"


class EchoSettings(ServiceSettings):
    """Port 0 and no admin server unless a test asks for one."""

    service_name: ClassVar[str] = "echo"

    admin_port: int = -1
    shutdown_grace_seconds: float = 2.0


class Echo:
    """Behaviour chosen by the request bytes, so tests can trigger each path."""

    def __init__(self, drain: Drain) -> None:
        self.drain = drain
        self.unary_calls = 0

    async def unary(self, request: bytes, ctx: Any) -> bytes:
        self.unary_calls += 1
        if request == b"not-found":
            raise NotFound("no such echo", metadata={"echo_id": "42"})
        if request == b"invalid":
            raise InvalidArgument(
                [FieldViolation("terms.pickup.latitude", "must be between -90 and 90")]
            )
        if request == b"boom":
            raise RuntimeError("secret internals /etc/passwd")
        if request == b"caller":
            caller = context.caller.get()
            return b"none" if caller is None else f"{caller.account_id}:{caller.role}".encode()
        if request == b"request-id":
            return (context.request_id.get() or "").encode()
        if request == b"slow":
            await asyncio.sleep(0.3)
            return b"finished"
        return request

    async def server_stream(self, request: bytes, ctx: Any) -> AsyncIterator[bytes]:
        async def forever() -> AsyncIterator[bytes]:
            count = 0
            while True:
                yield f"{request.decode()}-{count}".encode()
                count += 1
                await asyncio.sleep(0.01 if count < 3 else 3600)

        async for item in self.drain.guard(forever()):
            yield item

    async def client_stream(self, requests: AsyncIterator[bytes], ctx: Any) -> bytes:
        return b"".join([item async for item in requests])

    async def bidi(self, requests: AsyncIterator[bytes], ctx: Any) -> AsyncIterator[bytes]:
        async for item in requests:
            yield item.upper()


def _register(echo: Echo, server: grpc.aio.Server) -> None:
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(echo.unary),
                    "ServerStream": grpc.unary_stream_rpc_method_handler(echo.server_stream),
                    "ClientStream": grpc.stream_unary_rpc_method_handler(echo.client_stream),
                    "Bidi": grpc.stream_stream_rpc_method_handler(echo.bidi),
                },
            ),
        )
    )


def echo_host(
    untraced_methods: frozenset[str] = frozenset(), **settings: Any
) -> tuple[ServiceHost, Echo]:
    drain = Drain()
    echo = Echo(drain)
    host = ServiceHost(
        EchoSettings(**settings),
        bindings=[ServiceBinding(SERVICE, echo, _register, untraced_methods=untraced_methods)],
        drain=drain,
    )
    return host, echo
