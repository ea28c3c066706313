"""Helpers that run in-process gRPC servers on port 0 and stop them afterwards."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from services.runtime.server import ServiceHost


@asynccontextmanager
async def serving(host: ServiceHost) -> AsyncIterator[str]:
    """Start `host`, yield its address, and always shut it down gracefully."""
    port = await host.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await host.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Byte-level calls (no serializers); grpc-stubs wrongly makes the serializers mandatory.
def raw_unary(
    channel: grpc.aio.Channel, method: str
) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(method, None, None)


def raw_unary_stream(
    channel: grpc.aio.Channel, method: str
) -> grpc.aio.UnaryStreamMultiCallable[bytes, bytes]:
    return channel.unary_stream(method, None, None)


def raw_stream_unary(
    channel: grpc.aio.Channel, method: str
) -> grpc.aio.StreamUnaryMultiCallable[bytes, bytes]:
    return channel.stream_unary(method, None, None)


def raw_stream_stream(
    channel: grpc.aio.Channel, method: str
) -> grpc.aio.StreamStreamMultiCallable[bytes, bytes]:
    return channel.stream_stream(method, None, None)
