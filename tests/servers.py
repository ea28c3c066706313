"""Helpers that run in-process gRPC servers on port 0 and stop them afterwards."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.ports import free_port
from services.runtime.server import ServiceHost

__all__ = ["free_port", "serving", "wait_until_serving"]


@asynccontextmanager
async def serving(host: ServiceHost) -> AsyncIterator[str]:
    """Start `host`, yield its address, and always shut it down gracefully."""
    port = await host.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await host.stop()


def wait_until_serving(port: int, *, log: Path | None = None, limit: float = 30) -> None:
    """Poll a server process's gRPC health until SERVING; fail with its log if it never is."""
    give_up = time.monotonic() + limit
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < give_up:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            # Also after a NOT_SERVING reply, which comes back at once.
            time.sleep(0.1)
    detail = log.read_text() if log is not None else ""
    raise AssertionError(f"nothing became healthy on port {port}: {detail}")


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
