"""fleet's courier store on a real PostgreSQL: each change is one statement that writes the
courier only at the version it was read at, with its shift and its event, or nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from services.devstack import LocalPostgres
from services.fleet.adapters.postgres_couriers import PostgresCouriers
from services.fleet.bootstrap import MIGRATIONS
from services.fleet.domain.courier import Change, Courier
from services.fleet.domain.values import VehicleType
from services.fleet.service_layer.ports import CourierView
from services.runtime.database import Database, migrate

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def database(postgres: LocalPostgres) -> AsyncIterator[Database]:
    name = f"fleet_store_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    await migrate(postgres.dsn(name), MIGRATIONS)
    database = Database(postgres.dsn(name))
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


def view(change: Change) -> CourierView:
    return CourierView(change.after, None, None)


async def stored_version(database: Database, courier_id: str) -> int | None:
    version: int | None = await database.pool.fetchval(
        "SELECT version FROM couriers WHERE id = $1", courier_id
    )
    return version


async def events_of(database: Database, courier_id: str) -> list[int]:
    """The versions in the courier's status_changed events, in outbox order."""
    rows = await database.pool.fetch("SELECT envelope FROM outbox ORDER BY position")
    envelopes = [envelope_pb2.EventEnvelope.FromString(bytes(r["envelope"])) for r in rows]
    return [e.sequence for e in envelopes if e.subject == courier_id]


async def shifts_of(database: Database, courier_id: str) -> list[tuple[str, str | None]]:
    rows = await database.pool.fetch(
        "SELECT vehicle_type, end_reason FROM shifts WHERE courier_id = $1 ORDER BY id",
        courier_id,
    )
    return [(r["vehicle_type"], r["end_reason"]) for r in rows]


async def online_courier(store: PostgresCouriers) -> Courier:
    connected = Courier.first_connect(f"courier-{uuid.uuid4().hex[:8]}", "session-1", NOW)
    assert await store.save(connected, view(connected))
    online = connected.after.go_online(VehicleType.BICYCLE, NOW + timedelta(seconds=1))
    assert online is not None
    assert await store.save(online, view(online))
    return online.after


async def test_a_change_writes_the_courier_its_shift_and_its_event_together(
    database: Database,
) -> None:
    store = PostgresCouriers(database)
    courier = await online_courier(store)

    assert await stored_version(database, courier.courier_id) == 2
    assert await events_of(database, courier.courier_id) == [1, 2]
    assert await shifts_of(database, courier.courier_id) == [("BICYCLE", None)]
    stored = await store.load(courier.courier_id)
    assert stored is not None
    assert stored.courier == courier
    envelope = await database.pool.fetchval("SELECT envelope FROM outbox ORDER BY position DESC")
    event = courier_events_pb2.CourierStatusChanged()
    envelope_pb2.EventEnvelope.FromString(bytes(envelope)).payload.Unpack(event)
    assert event.courier.courier_id == courier.courier_id


async def test_a_change_read_at_an_older_version_writes_nothing(database: Database) -> None:
    store = PostgresCouriers(database)
    courier = await online_courier(store)
    went_offline = courier.go_offline(NOW + timedelta(seconds=2))
    assert went_offline is not None
    assert await store.save(went_offline, view(went_offline))

    # Another replica read the courier at version 2 too and decides on it.
    stale = courier.go_offline(NOW + timedelta(seconds=3))
    assert stale is not None
    assert not await store.save(stale, view(stale))

    assert await stored_version(database, courier.courier_id) == 3
    assert await events_of(database, courier.courier_id) == [1, 2, 3]
    assert await shifts_of(database, courier.courier_id) == [("BICYCLE", "WENT_OFFLINE")]


async def test_a_second_first_connect_of_the_same_courier_writes_nothing(
    database: Database,
) -> None:
    store = PostgresCouriers(database)
    courier_id = f"courier-{uuid.uuid4().hex[:8]}"
    first = Courier.first_connect(courier_id, "session-1", NOW)
    again = Courier.first_connect(courier_id, "session-2", NOW)

    assert await store.save(first, view(first))
    assert not await store.save(again, view(again))

    stored = await store.load(courier_id)
    assert stored is not None
    assert stored.courier.session_id == "session-1"
    assert await events_of(database, courier_id) == [1]


async def test_a_vehicle_change_ends_the_open_shift_and_starts_the_next(
    database: Database,
) -> None:
    store = PostgresCouriers(database)
    courier = await online_courier(store)
    changed = courier.go_online(VehicleType.CAR, NOW + timedelta(seconds=2))
    assert changed is not None
    assert changed.shift_started
    assert changed.shift_ended

    assert await store.save(changed, view(changed))

    assert await shifts_of(database, courier.courier_id) == [
        ("BICYCLE", "VEHICLE_CHANGED"),
        ("CAR", None),
    ]
    assert await events_of(database, courier.courier_id) == [1, 2, 3]


async def test_an_event_that_cannot_be_recorded_leaves_the_courier_unchanged(
    database: Database,
) -> None:
    store = PostgresCouriers(database)
    courier = await online_courier(store)
    went_offline = courier.go_offline(NOW + timedelta(seconds=2))
    assert went_offline is not None
    # The outbox refuses every new row, so the event part of the statement fails.
    await database.pool.execute(
        "ALTER TABLE outbox ADD CONSTRAINT refuse_events CHECK (false) NOT VALID"
    )
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await store.save(went_offline, view(went_offline))
    finally:
        await database.pool.execute("ALTER TABLE outbox DROP CONSTRAINT refuse_events")

    assert await stored_version(database, courier.courier_id) == 2
    assert await shifts_of(database, courier.courier_id) == [("BICYCLE", None)]
    assert await events_of(database, courier.courier_id) == [1, 2]
