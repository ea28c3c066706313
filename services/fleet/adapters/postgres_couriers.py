"""The courier store on PostgreSQL: each change is one transaction that writes the
courier (conditional on the version it was read at), its shift, and its event in the
outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from services.fleet.adapters.courier_rows import COLUMNS, row_values, view_from
from services.fleet.adapters.status_events import status_changed_envelope
from services.fleet.domain.courier import Change
from services.fleet.service_layer.ports import CourierStore, CourierView
from services.runtime.database import Database
from services.runtime.errors import Unavailable
from services.runtime.events import outbox

_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
_INSERT = (
    f"INSERT INTO couriers ({', '.join(COLUMNS)}) VALUES ({_PLACEHOLDERS})"
    " ON CONFLICT (id) DO NOTHING RETURNING true"
)
_UPDATE = (
    "UPDATE couriers SET "
    + ", ".join(f"{name} = ${n}" for n, name in enumerate(COLUMNS, start=1) if name != "id")
    + f" WHERE id = $1 AND version = ${len(COLUMNS) + 1} RETURNING true"
)
_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    OSError,
    TimeoutError,
)


class PostgresCouriers(CourierStore):
    """Couriers, shifts and the outbox in fleet's own database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, courier_id: str) -> CourierView | None:
        async with self._reachable():
            row = await self._database.pool.fetchrow(
                f"SELECT {', '.join(COLUMNS)} FROM couriers WHERE id = $1", courier_id
            )
        return view_from(row) if row is not None else None

    async def save(self, change: Change, view: CourierView) -> bool:
        async with self._reachable(), self._database.transaction() as connection:
            return await self._write(connection, change, view)

    async def save_all(self, changes: Sequence[tuple[Change, CourierView]]) -> None:
        if not changes:
            return
        async with self._reachable(), self._database.transaction() as connection:
            for change, view in changes:
                await self._write(connection, change, view)

    async def _write(
        self, connection: asyncpg.Connection, change: Change, view: CourierView
    ) -> bool:
        values = row_values(view)
        if change.before is None:
            written = await connection.fetchval(_INSERT, *values)
        else:
            written = await connection.fetchval(_UPDATE, *values, change.before.version)
        if not written:
            return False
        after = change.after
        if change.shift_ended is not None:
            await connection.execute(
                "UPDATE shifts SET ended_at = $2, end_reason = $3"
                " WHERE courier_id = $1 AND ended_at IS NULL",
                after.courier_id,
                after.updated_at,
                change.shift_ended.value,
            )
        if change.shift_started is not None:
            await connection.execute(
                "INSERT INTO shifts (courier_id, vehicle_type, started_at) VALUES ($1, $2, $3)",
                after.courier_id,
                change.shift_started.value,
                after.updated_at,
            )
        await outbox.append(connection, status_changed_envelope(change, view))
        return True

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        try:
            yield
        except _DOWN as down:
            raise Unavailable("fleet's database did not answer; retry") from down
