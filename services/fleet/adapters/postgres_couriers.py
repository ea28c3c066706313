"""The courier store on PostgreSQL: each change is one statement (so one transaction and
one round trip) that writes the courier (conditional on the version it was read at), its
shift, and its event in the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache

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
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_EXPECTED_VERSION = len(COLUMNS) + 1
_UPDATE = (
    "UPDATE couriers SET "
    + ", ".join(f"{name} = ${n}" for n, name in enumerate(COLUMNS, start=1) if name != "id")
    + f" WHERE id = $1 AND version = ${_EXPECTED_VERSION} RETURNING id"
)
_UPDATED_AT = f"${COLUMNS.index('updated_at') + 1}"
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM couriers WHERE id = $1"
_START_SHIFT = "INSERT INTO shifts (courier_id, vehicle_type, started_at) VALUES ($1, $2, $3)"


@cache
def _statement(*, first: bool, ends_shift: bool, starts_shift: bool) -> str:
    """The courier (inserted on a first connect, else updated if still at the version it
    was read at), the shift it ends or starts, and its event with the relay woken, as one
    statement that yields a row only if the courier was written. The parameters: COLUMNS,
    then the expected version (unless `first`), the shift's end reason and its vehicle
    (each if any), then the three of the outbox."""
    parameters = len(COLUMNS) + (0 if first else 1)
    ctes = [f"courier_written AS ({_INSERT if first else _UPDATE})"]
    if ends_shift:
        parameters += 1
        ctes.append(
            "shift_ended AS (UPDATE shifts SET ended_at = "
            f"{_UPDATED_AT}, end_reason = ${parameters}"
            " WHERE courier_id = $1 AND ended_at IS NULL AND EXISTS (SELECT FROM courier_written))"
        )
    if starts_shift:
        parameters += 1
        ctes.append(
            "shift_started AS (INSERT INTO shifts (courier_id, vehicle_type, started_at)"
            f" SELECT $1, ${parameters}, {_UPDATED_AT} FROM courier_written)"
        )
    return outbox.with_events(
        ", ".join(ctes), guard="courier_written", first_parameter=parameters + 1
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
        async with self._reachable(), self._database.connection() as connection:
            row = await connection.fetchrow(_SELECT, courier_id)
        return view_from(row) if row is not None else None

    async def save(self, change: Change, view: CourierView) -> bool:
        if change.shift_started is not None and change.shift_ended is not None:
            async with self._reachable(), self._database.transaction() as connection:
                return await self._write(connection, change, view)
        # Otherwise the write is one statement, which commits as a whole on its own.
        async with self._reachable(), self._database.connection() as connection:
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
        """Call inside a transaction when the change both ends and starts a shift."""
        after, ended, started = change.after, change.shift_ended, change.shift_started
        # A shift that ends and another that starts are two statements: the open shift must
        # be closed before the new one is inserted (one open shift per courier, and the
        # order of a statement's data-modifying CTEs is not defined).
        starts_here = started is not None and ended is None
        parameters: list[object] = list(row_values(view))
        if change.before is not None:
            parameters.append(change.before.version)
        if ended is not None:
            parameters.append(ended.value)
        if starts_here and started is not None:
            parameters.append(started.value)
        statement = _statement(
            first=change.before is None, ends_shift=ended is not None, starts_shift=starts_here
        )
        envelope = status_changed_envelope(change, view)
        written = await connection.fetchrow(
            statement, *parameters, *outbox.event_parameters((envelope,))
        )
        if written is None:
            return False
        if started is not None and not starts_here:
            await connection.execute(
                _START_SHIFT, after.courier_id, started.value, after.updated_at
            )
        return True

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        try:
            yield
        except _DOWN as down:
            raise Unavailable("fleet's database did not answer; retry") from down
