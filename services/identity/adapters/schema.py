"""identity's migrations, applied by one replica at a time."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.runtime.database import migrate

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
_MIGRATION_LOCK = "lastmile.identity.migrations"


async def migrate_exclusively(dsn: str) -> None:
    """Apply pending migrations while holding a session advisory lock, because Alembic
    does not guard against two replicas upgrading the same database at once."""
    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", _MIGRATION_LOCK)
        await migrate(dsn, MIGRATIONS)
    finally:
        # Closing the session releases its advisory lock.
        await connection.close()
