"""A fake dispatch for fleet's Link: a real in-process gRPC server that records what
fleet sends and pushes offers, cancellations and assignments on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import grpc

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from lastmile.dispatch.v1 import dispatch_internal_pb2_grpc as link_pb2_grpc
from services.runtime.grpc_types import ServicerContext


@dataclass(frozen=True)
class EndLink:
    """Pushed like a response: the Link that takes it ends, with OK or `code`."""

    code: grpc.StatusCode | None = None
    details: str = ""


class FakeDispatch(link_pb2_grpc.DispatchInternalServiceServicer):
    """Serves Links; `received` holds every request of every Link, in order."""

    def __init__(self) -> None:
        self.received: list[link_pb2.LinkRequest] = []
        self.links = 0
        self._to_fleet: asyncio.Queue[link_pb2.LinkResponse | EndLink] = asyncio.Queue()

    def push(self, response: link_pb2.LinkResponse | EndLink) -> None:
        self._to_fleet.put_nowait(response)

    def of_kind(self, kind: str) -> list[link_pb2.LinkRequest]:
        return [r for r in self.received if r.WhichOneof("message") == kind]

    async def Link(
        self, request_iterator: AsyncIterable[link_pb2.LinkRequest], context: ServicerContext
    ) -> AsyncIterator[link_pb2.LinkResponse]:
        self.links += 1
        reader = asyncio.create_task(self._record(request_iterator))
        try:
            while not isinstance(pushed := await self._to_fleet.get(), EndLink):
                yield pushed
            if pushed.code is not None:
                await context.abort(pushed.code, pushed.details)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _record(self, requests: AsyncIterable[link_pb2.LinkRequest]) -> None:
        with contextlib.suppress(Exception):
            async for request in requests:
                self.received.append(request)


class FakeDispatchServer:
    """The fake on a fixed port, which can be stopped (cutting the Link) and restarted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.fake = FakeDispatch()
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server()
        link_pb2_grpc.add_DispatchInternalServiceServicer_to_server(self.fake, server)
        server.add_insecure_port(self.address)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        """Cut every Link at once, the way a crashed dispatch would."""
        if self._server is not None:
            await self._server.stop(None)
            self._server = None
