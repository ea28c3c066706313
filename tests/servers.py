"""Helpers that run in-process gRPC servers on port 0 and stop them afterwards."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
