"""The body of every service's Alembic env.py: run migrations online over asyncpg.

Each service's `migrations/env.py` is one call to `run_migrations()`, so that the
Alembic wiring exists once.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import async_engine_from_config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = async_engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations() -> None:
    if context.is_offline_mode():
        raise RuntimeError("Lastmile migrations run online only (make the database reachable)")
    asyncio.run(_run_online())
