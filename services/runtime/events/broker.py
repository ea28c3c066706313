"""The NATS connection a service keeps for events: reconnects forever with backoff, and
its first connect waits for the broker instead of failing the service's start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

import nats
from nats.aio.client import Client
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

log = logging.getLogger("lastmile.events")


async def connect(url: str, *, name: str) -> Client:
    client: Client | None = None

    async def disconnected() -> None:
        # nats-py calls this for a close we asked for too; only a lost connection is news.
        if client is None or not client.is_closed:
            log.warning("broker connection lost; reconnecting", extra={"broker": url})

    async def reconnected() -> None:
        log.info("broker connection restored", extra={"broker": url})

    async for attempt in AsyncRetrying(
        wait=wait_exponential_jitter(multiplier=0.1, max=5),
        # nats.errors.Error covers a server that accepts the socket but is still starting.
        retry=retry_if_exception_type((OSError, nats.errors.Error, TimeoutError)),
        before_sleep=lambda state: log.warning(
            "broker unreachable; retrying", extra={"broker": url, "attempt": state.attempt_number}
        ),
    ):
        with attempt:
            client = await nats.connect(
                url,
                name=name,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
            )
            return client
    raise AssertionError("unreachable: AsyncRetrying retries forever")


async def close(client: Client, *, limit: float = 5.0) -> None:
    """Close a connection, waiting at most `limit` seconds: a broker that is down cannot be
    flushed to, and a shutdown must not wait for it forever."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.close(), timeout=limit)


def require_connected(client: Client | None) -> Client:
    """`client` while it is connected; otherwise nats' ConnectionReconnectingError, which
    the runtime reports as the broker being unavailable. For work that must not start
    while the broker is away (a watch that would silently miss changes)."""
    if client is None or not client.is_connected:
        raise nats.errors.ConnectionReconnectingError
    return client


async def ping(client: Client, limit_seconds: float) -> None:
    """A PING/PONG round trip, for the dependency monitor; raises when the connection is
    down or the server does not answer within `limit_seconds`."""
    await require_connected(client).flush(timeout=math.ceil(limit_seconds))
