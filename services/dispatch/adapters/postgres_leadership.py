"""Leadership as a PostgreSQL advisory lock, held by one dedicated connection for the
whole term. The lock dies with its session, so a leader whose connection breaks (or
whose process dies) frees it at once; and the queue is written through that same
session, so a replica that lost the lock can never write over its successor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import asyncpg

from services.dispatch.adapters import postgres_queue
from services.dispatch.domain.queue_rows import StoredDelivery
from services.dispatch.service_layer.ports import LeaderLease, LeaderLock, QueueWrite

log = logging.getLogger("lastmile.dispatch.leadership")
# One matcher per dispatch database (advisory locks are scoped to the database).
LOCK_KEY = zlib.crc32(b"lastmile-dispatch-matcher")


class PostgresLease(LeaderLease):
    """The lock-holding connection; lost when it closes or stops answering."""

    def __init__(self, connection: asyncpg.Connection, heartbeat_seconds: float) -> None:
        self._connection = connection
        self._heartbeat_seconds = heartbeat_seconds
        self._lost = asyncio.Event()
        self._in_use = asyncio.Lock()  # one query at a time on one connection
        connection.add_termination_listener(lambda _: self._lost.set())
        self._heartbeat = asyncio.create_task(self._beat(), name="leader-heartbeat")

    async def lost(self) -> None:
        await self._lost.wait()

    # A leader that cannot read or write its queue must not go on leading.
    async def load(self) -> list[StoredDelivery]:
        async with self._in_use:
            try:
                return await postgres_queue.load(self._connection)
            except Exception:
                self._lost.set()
                raise

    async def write(self, change: QueueWrite) -> None:
        async with self._in_use:
            try:
                await postgres_queue.write(self._connection, change)
            except Exception:
                self._lost.set()
                raise

    async def release(self) -> None:
        self._heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._heartbeat
        if not self._lost.is_set():
            with contextlib.suppress(Exception):
                await self._connection.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY, timeout=2)
        try:
            await asyncio.wait_for(self._connection.close(), timeout=2)
        except Exception:
            self._connection.terminate()
        self._lost.set()

    async def _beat(self) -> None:
        while not self._lost.is_set():
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                async with self._in_use:
                    await self._connection.fetchval("SELECT 1", timeout=self._heartbeat_seconds)
            except Exception:
                log.warning("the leader's database connection stopped answering")
                self._lost.set()


class PostgresLeaderLock(LeaderLock):
    """pg_try_advisory_lock on a fresh connection per attempt."""

    def __init__(self, dsn: str, *, heartbeat_seconds: float) -> None:
        self._dsn = dsn
        self._heartbeat_seconds = heartbeat_seconds

    async def try_acquire(self) -> PostgresLease | None:
        try:
            connection = await asyncpg.connect(self._dsn, timeout=5, command_timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as unreachable:
            log.warning("cannot reach the database to campaign for leadership: %s", unreachable)
            return None
        try:
            acquired = await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        except BaseException:
            connection.terminate()
            raise
        if not acquired:
            await connection.close()
            return None
        return PostgresLease(connection, self._heartbeat_seconds)
