"""orders' unit of work on a real PostgreSQL: a change and its events commit together or not
at all, whether the change is one statement or a transaction, and a change decided on a
version that is no longer stored writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from lastmile.events.v1 import envelope_pb2
from services.devstack import LocalPostgres
from services.orders.adapters.postgres_unit_of_work import PostgresUnitOfWork
from services.orders.bootstrap import MIGRATIONS
from services.orders.domain.delivery import Delivery, DeliveryStatus
from services.orders.domain.events import DeliveryCreated
from services.orders.domain.idempotency import IdempotencyRecord
from services.runtime.database import Database, migrate
from tests.unit.orders.examples import COURIER, OTHER_COURIER, QUOTE, REQUEST
from tests.unit.orders.fakes import NOW

LATER = NOW + timedelta(minutes=1)


@pytest.fixture(scope="module")
async def database(postgres: LocalPostgres) -> AsyncIterator[Database]:
    name = f"orders_uow_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    await migrate(postgres.dsn(name), MIGRATIONS)
    database = Database(postgres.dsn(name))
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


def created() -> tuple[Delivery, DeliveryCreated]:
    return Delivery.create(
        str(uuid.uuid4()),
        REQUEST,
        QUOTE,
        region="berlin",
        customer_id="customer-1",
        merchant_id=None,
        now=NOW,
    )


async def stored(database: Database, delivery_id: str) -> Delivery | None:
    async with PostgresUnitOfWork(database) as uow:
        return await uow.deliveries.get(delivery_id)


async def event_types(database: Database, delivery_id: str) -> list[str]:
    rows = await database.pool.fetch("SELECT envelope FROM outbox ORDER BY position")
    envelopes = [envelope_pb2.EventEnvelope.FromString(bytes(r["envelope"])) for r in rows]
    return [e.type for e in envelopes if e.subject == delivery_id]


async def add(database: Database) -> Delivery:
    delivery, event = created()
    async with PostgresUnitOfWork(database) as uow:
        uow.emit(event)
        await uow.add_and_commit(delivery)
    return delivery


class OutboxRefusing:
    """While inside, the outbox refuses every new row."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def __aenter__(self) -> None:
        await self._database.pool.execute(
            "ALTER TABLE outbox ADD CONSTRAINT refuse_events CHECK (false) NOT VALID"
        )

    async def __aexit__(self, *_: object) -> None:
        await self._database.pool.execute("ALTER TABLE outbox DROP CONSTRAINT refuse_events")


async def test_a_created_delivery_and_its_event_commit_together(database: Database) -> None:
    delivery = await add(database)

    assert await stored(database, delivery.id) == delivery
    assert await event_types(database, delivery.id) == ["lastmile.delivery.created"]


async def test_a_change_decided_on_an_older_version_writes_nothing(database: Database) -> None:
    delivery = await add(database)
    first = delivery.assign(COURIER, LATER)
    late = delivery.assign(OTHER_COURIER, LATER)  # decided on the same version, later
    assert first.event is not None
    assert late.event is not None

    async with PostgresUnitOfWork(database) as uow:
        uow.emit(first.event)
        assert await uow.replace_and_commit(first.delivery, expected_version=delivery.version)
    async with PostgresUnitOfWork(database) as uow:
        uow.emit(late.event)
        assert not await uow.replace_and_commit(late.delivery, expected_version=delivery.version)

    now_stored = await stored(database, delivery.id)
    assert now_stored is not None
    assert now_stored.assignment == COURIER
    assert now_stored.version == delivery.version + 1
    assert await event_types(database, delivery.id) == [
        "lastmile.delivery.created",
        "lastmile.delivery.assigned",
    ]


async def test_a_change_whose_event_cannot_be_recorded_is_not_kept(database: Database) -> None:
    delivery = await add(database)
    assigned = delivery.assign(COURIER, LATER)
    assert assigned.event is not None

    async with OutboxRefusing(database), PostgresUnitOfWork(database) as uow:
        uow.emit(assigned.event)
        with pytest.raises(asyncpg.CheckViolationError):
            await uow.replace_and_commit(assigned.delivery, expected_version=delivery.version)

    now_stored = await stored(database, delivery.id)
    assert now_stored is not None
    assert now_stored.status is DeliveryStatus.PENDING
    assert await event_types(database, delivery.id) == ["lastmile.delivery.created"]


async def test_a_keyed_create_whose_event_cannot_be_recorded_keeps_neither_key_nor_delivery(
    database: Database,
) -> None:
    delivery, event = created()
    record = IdempotencyRecord("merchant-1", f"key-{uuid.uuid4()}", "fingerprint", delivery.id, NOW)

    async with OutboxRefusing(database), PostgresUnitOfWork(database) as uow:
        assert await uow.idempotency_keys.claim(record, since=NOW) is None
        uow.emit(event)
        with pytest.raises(asyncpg.CheckViolationError):
            await uow.add_and_commit(delivery)

    assert await stored(database, delivery.id) is None
    async with PostgresUnitOfWork(database) as uow:
        assert await uow.idempotency_keys.find(record.owner_id, record.key, since=NOW) is None
    assert await event_types(database, delivery.id) == []


async def test_writes_left_without_a_commit_are_rolled_back(database: Database) -> None:
    delivery, _ = created()
    record = IdempotencyRecord("merchant-1", f"key-{uuid.uuid4()}", "fingerprint", delivery.id, NOW)

    async with PostgresUnitOfWork(database) as uow:
        assert await uow.idempotency_keys.claim(record, since=NOW) is None
        await uow.deliveries.add(delivery)

    assert await stored(database, delivery.id) is None
    async with PostgresUnitOfWork(database) as uow:
        assert await uow.idempotency_keys.find(record.owner_id, record.key, since=NOW) is None


async def test_a_keyed_create_commits_the_key_the_delivery_and_the_event(
    database: Database,
) -> None:
    delivery, event = created()
    record = IdempotencyRecord("merchant-1", f"key-{uuid.uuid4()}", "fingerprint", delivery.id, NOW)

    async with PostgresUnitOfWork(database) as uow:
        assert await uow.idempotency_keys.claim(record, since=NOW) is None
        uow.emit(event)
        await uow.add_and_commit(delivery)

    assert await stored(database, delivery.id) == delivery
    async with PostgresUnitOfWork(database) as uow:
        found = await uow.idempotency_keys.find(record.owner_id, record.key, since=NOW)
    assert found is not None
    assert found.delivery_id == delivery.id
    assert await event_types(database, delivery.id) == ["lastmile.delivery.created"]
