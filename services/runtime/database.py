"""PostgreSQL for one service: an asyncpg pool over the service's own database, and its
versioned migrations applied by Alembic at start-up (or by `python -m services.<name>
migrate`). No service ever connects to another service's database.

Statements are prepared once per connection and reused (asyncpg's statement cache).
asyncpg resets every connection it takes back (one more round trip that releases advisory
locks, closes cursors, UNLISTENs and RESETs every setting); `connection()` and
`transaction()` lend connections for work that leaves no such session state, and those are
taken back with only the rollback of an unfinished transaction, which asyncpg always does;
so are those of the pool's one-statement helpers (`pool.fetch`, `pool.execute`, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import asyncpg
from alembic import command
from alembic.config import Config
from asyncpg.pool import PoolConnectionProxy

from services.runtime.dependency_monitor import ProbeInconclusive

log = logging.getLogger("lastmile.database")


class StatementConnection(asyncpg.Connection):
    """A pooled connection that knows whether its current lease may have left session state
    (a session advisory lock, LISTEN, SET, an open cursor) behind."""

    __slots__ = ("session_state_possible",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_state_possible = True

    def lend_without_session_state(self) -> None:
        self.session_state_possible = False


async def _reset_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: asyncpg has already rolled back an unfinished transaction; the full
    reset query runs unless the lease was one that keeps no session state."""
    if not isinstance(connection, StatementConnection):
        await connection.execute(connection.get_reset_query())
        return
    try:
        if connection.session_state_possible:
            await connection.execute(connection.get_reset_query())
    finally:
        # Every lease but those of `acquire()` may leave state: assume it until told.
        connection.session_state_possible = True


class StatementPool(asyncpg.Pool):
    """asyncpg's pool, whose one-statement helpers (`execute`, `fetch`, `fetchrow`,
    `fetchval`) lend like `Database.connection()`: a single statement leaves no session
    state unless that is its purpose (SET, LISTEN, a session advisory lock), and such a
    statement needs a connection of its own (`pool.acquire()`), not one given back at once."""

    # The helpers keep asyncpg's signatures, `timeout` included (hence the noqa).
    async def execute(
        self,
        query: str,
        *args: object,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> str:
        async with self.acquire() as connection:
            cast(StatementConnection, connection).lend_without_session_state()
            return await connection.execute(query, *args, timeout=timeout)

    async def fetch(  # type: ignore[override]
        self,
        query: str,
        *args: object,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[asyncpg.Record]:
        async with self.acquire() as connection:
            cast(StatementConnection, connection).lend_without_session_state()
            return await connection.fetch(query, *args, timeout=timeout)

    async def fetchrow(  # type: ignore[override]
        self,
        query: str,
        *args: object,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> asyncpg.Record | None:
        async with self.acquire() as connection:
            cast(StatementConnection, connection).lend_without_session_state()
            return await connection.fetchrow(query, *args, timeout=timeout)

    async def fetchval(
        self,
        query: str,
        *args: object,
        column: int = 0,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        async with self.acquire() as connection:
            cast(StatementConnection, connection).lend_without_session_state()
            return await connection.fetchval(query, *args, column=column, timeout=timeout)


class Database:
    """A connection pool; `transaction()` is the unit in which state and outbox change."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._min_size, self._max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        # What asyncpg.create_pool does, with the pool class above.
        pool = StatementPool(
            self.dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            max_queries=50000,
            max_inactive_connection_lifetime=300.0,
            loop=None,
            connection_class=StatementConnection,
            record_class=asyncpg.Record,
            reset=_reset_session,
            command_timeout=30,
        )
        self._pool = await pool

    async def close(self, grace: float = 10.0) -> None:
        """Close gracefully; connections still checked out after `grace` seconds (a
        stuck query, a task that never released one) are terminated, so a shutdown
        can never hang on the pool."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=grace)
        except TimeoutError:
            log.warning("connections still in use after %.0fs; terminating them", grace)
            pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.connect() was not awaited")
        return self._pool

    async def ping(self, limit_seconds: float) -> None:
        """`SELECT 1` through the pool, for the dependency monitor. Raises when the server
        cannot be reached; `ProbeInconclusive` when every connection is busy (a loaded
        service is not a database that is down)."""
        pool = self.pool
        # Every connection checked out: a timeout would only say that the pool is busy.
        # Otherwise the acquire waits for nothing but a (re)connect, so a timeout means the
        # server does not answer.
        all_busy = pool.get_size() - pool.get_idle_size() >= pool.get_max_size()
        try:
            connection = await pool.acquire(timeout=limit_seconds)
        except TimeoutError as timed_out:
            if all_busy:
                raise ProbeInconclusive("every pooled connection is in use") from timed_out
            raise
        try:
            await connection.fetchval("SELECT 1", timeout=limit_seconds)
        finally:
            await pool.release(connection)

    async def acquire(self) -> asyncpg.Connection:
        """A connection for statements and transactions that take no session state: no
        session advisory lock (`pg_advisory_xact_lock` is fine), LISTEN, plain SET (SET LOCAL
        is fine) or cursor outside a transaction. Give it back with `release`, which skips
        the reset query. Anything else takes `pool.acquire()`, which resets."""
        # The pool hands out a proxy that forwards every Connection method, and whatever
        # Connection does not define to the StatementConnection behind it.
        lease = cast(StatementConnection, await self.pool.acquire())
        lease.lend_without_session_state()
        return lease

    async def release(self, connection: asyncpg.Connection) -> None:
        await self.pool.release(cast("PoolConnectionProxy[asyncpg.Record]", connection))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """`acquire()` and `release()`: a connection for statements that take no session
        state. A single statement commits as a whole outside a transaction too."""
        connection = await self.acquire()
        try:
            yield connection
        finally:
            await self.release(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction: committed on exit, rolled back on error. The
        transaction must take no session state (see `acquire`)."""
        async with self.connection() as connection, connection.transaction():
            yield connection


def alembic_config(dsn: str, migrations: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    # SQLAlchemy's asyncpg dialect, so that migrations need no second driver.
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(dsn: str, migrations: Path) -> None:
    """Apply every migration not yet applied; safe to run on every start."""
    command.upgrade(alembic_config(dsn, migrations), "head")


async def migrate(dsn: str, migrations: Path) -> None:
    # Alembic's async env runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(upgrade_to_head, dsn, migrations)
    log.info("migrations applied", extra={"migrations": str(migrations)})
