"""The runtime's connection pool on a real PostgreSQL: what a lease leaves behind never
reaches the next one, whether it was lent by `pool.acquire()` (fully reset) or by
`Database.connection()` (rolled back), and a failed transaction keeps nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.devstack import LocalPostgres
from services.runtime.database import Database

LOCK_KEY = 4242


@pytest.fixture
async def database(postgres: LocalPostgres) -> AsyncIterator[Database]:
    name = f"runtime_db_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    # One connection, so that every lease below is the same server session.
    database = Database(postgres.dsn(name), min_size=1, max_size=1)
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def advisory_locks_held(database: Database) -> int:
    async with database.connection() as connection:
        held: int = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
    return held


async def test_session_state_taken_through_pool_acquire_is_reset_on_release(
    database: Database,
) -> None:
    async with database.pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        await connection.execute("SET application_name = 'left behind'")

    assert await advisory_locks_held(database) == 0
    async with database.connection() as connection:
        assert await connection.fetchval("SHOW application_name") != "left behind"


async def test_a_pool_acquire_after_a_lent_connection_is_still_reset(database: Database) -> None:
    async with database.connection() as connection:
        await connection.fetchval("SELECT 1")
    async with database.pool.acquire() as connection:
        await connection.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)

    assert await advisory_locks_held(database) == 0


async def test_a_transaction_left_open_on_a_lent_connection_is_rolled_back(
    database: Database,
) -> None:
    async with database.connection() as connection:
        await connection.execute("CREATE TABLE notes (text text)")
    connection = await database.acquire()
    await connection.execute("BEGIN")
    await connection.execute("INSERT INTO notes VALUES ('never committed')")
    await database.release(connection)

    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM notes") == 0
        assert not connection.is_in_transaction()


async def test_a_failing_transaction_keeps_none_of_its_statements(database: Database) -> None:
    async with database.connection() as connection:
        await connection.execute("CREATE TABLE things (id int PRIMARY KEY)")

    async def insert_twice() -> None:
        async with database.transaction() as connection:
            await connection.execute("INSERT INTO things VALUES (1)")
            await connection.execute("INSERT INTO things VALUES (1)")

    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_twice()

    async with database.connection() as connection:
        assert await connection.fetchval("SELECT count(*) FROM things") == 0
