"""The event pipeline on a real PostgreSQL and a real NATS JetStream: outbox, relay,
de-duplication, durable consumers with an inbox, and dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import nats as nats_client
import pytest
from google.protobuf import timestamp_pb2

from lastmile.events.v1 import envelope_pb2
from services.devstack import LocalNats, LocalPostgres
from services.runtime.database import Database, migrate
from services.runtime.events import outbox
from services.runtime.events.consumer import EventConsumer, Subscription
from services.runtime.events.envelope import new_envelope

pytestmark = pytest.mark.slow
MIGRATIONS = Path(__file__).parent / "events_migrations"


@pytest.fixture
async def database(postgres: LocalPostgres) -> AsyncIterator[Database]:
    name = f"events_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    await migrate(postgres.dsn(name), MIGRATIONS)
    db = Database(postgres.dsn(name))
    await db.connect()
    yield db
    await db.close()


def event_type() -> str:
    # A subject of its own per test, inside the delivery stream.
    return f"lastmile.delivery.test_{uuid.uuid4().hex[:10]}"


async def emit(db: Database, kind: str, subject: str, sequence: int) -> envelope_pb2.EventEnvelope:
    envelope = new_envelope(
        event_type=kind,
        source="tests",
        subject=subject,
        sequence=sequence,
        payload=timestamp_pb2.Timestamp(seconds=sequence),
    )
    async with db.transaction() as connection:
        await outbox.append(connection, envelope)
    return envelope


async def record(connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope) -> None:
    await connection.execute(
        "INSERT INTO handled (event_id, subject, sequence) VALUES ($1, $2, $3)",
        uuid.UUID(envelope.event_id),
        envelope.subject,
        envelope.sequence,
    )


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 30) -> None:
    """Poll `check` until it holds; the limit only bounds a broken run."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + limit
    while not await check():
        if loop.time() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def handled_count(db: Database) -> int:
    return int(await db.pool.fetchval("SELECT count(*) FROM handled"))


async def test_outbox_events_reach_a_consumer_once_and_in_order_per_subject(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    for sequence in range(1, 11):
        await emit(database, kind, subject=f"delivery-{sequence % 2}", sequence=sequence)
    relay = outbox.OutboxRelay(database, nats.url, service="tests", poll_seconds=0.1)
    consumer = EventConsumer(
        database, nats.url, Subscription(durable=f"c{uuid.uuid4().hex[:8]}", subjects=(kind,)),
        record,
    )  # fmt: skip
    relay.start()
    consumer.start()
    try:
        await eventually(lambda: _at_least(database, 10), "10 handled events")
    finally:
        await consumer.stop()
        await relay.stop()
    rows = await database.pool.fetch("SELECT subject, sequence FROM handled ORDER BY id")
    assert len(rows) == 10
    for subject in ("delivery-0", "delivery-1"):
        sequences = [r["sequence"] for r in rows if r["subject"] == subject]
        assert sequences == sorted(sequences)
    assert (
        await database.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    )


async def _at_least(db: Database, count: int) -> bool:
    return await handled_count(db) >= count


async def test_events_written_while_nats_is_down_all_arrive_exactly_once_after_it_returns(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    relay = outbox.OutboxRelay(database, nats.url, service="tests", poll_seconds=0.1)
    consumer = EventConsumer(
        database, nats.url, Subscription(durable=f"c{uuid.uuid4().hex[:8]}", subjects=(kind,)),
        record,
    )  # fmt: skip
    relay.start()
    consumer.start()
    try:
        async with nats.stopped():
            emitted = [await emit(database, kind, f"d-{n}", n) for n in range(50)]
            pending = await database.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            assert pending == 50
        await eventually(lambda: _at_least(database, 50), "50 events after the outage", 60)
        # Let any redelivery show itself before counting duplicates.
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await relay.stop()
    handled = await database.pool.fetch("SELECT event_id FROM handled")
    assert sorted(str(r["event_id"]) for r in handled) == sorted(e.event_id for e in emitted)


async def test_a_republished_event_is_deduplicated_by_jetstream_and_by_the_inbox(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    envelope = new_envelope(
        event_type=kind, source="tests", subject="d", payload=timestamp_pb2.Timestamp()
    )
    connection = await nats_client.connect(nats.url)
    js = connection.jetstream()
    # The same id twice: JetStream drops the second. A different msg id but the same
    # event (as after a dedup window expired): the inbox drops it.
    for message_id in (envelope.event_id, envelope.event_id, "another-id"):
        await js.publish(kind, envelope.SerializeToString(), headers={"Nats-Msg-Id": message_id})
    await connection.close()
    consumer = EventConsumer(
        database, nats.url, Subscription(durable=f"c{uuid.uuid4().hex[:8]}", subjects=(kind,)),
        record,
    )  # fmt: skip
    consumer.start()
    try:
        await eventually(lambda: _inbox_has(database, envelope.event_id), "the inbox entry")
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    assert await handled_count(database) == 1


async def _inbox_has(db: Database, event_id: str) -> bool:
    found = await db.pool.fetchval("SELECT 1 FROM inbox WHERE event_id = $1", uuid.UUID(event_id))
    return found is not None


async def test_poison_and_always_failing_events_end_in_the_dead_letter_subject(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    durable = f"c{uuid.uuid4().hex[:8]}"
    connection = await nats_client.connect(nats.url)
    js = connection.jetstream()
    dead = await js.subscribe(f"lastmile.deadletter.{durable}", ordered_consumer=True)
    await js.publish(kind, b"\xff not a protobuf envelope")
    failing = new_envelope(
        event_type=kind, source="t", subject="d", payload=timestamp_pb2.Timestamp()
    )
    await js.publish(kind, failing.SerializeToString())

    async def always_fails(_: asyncpg.Connection, __: envelope_pb2.EventEnvelope) -> None:
        raise RuntimeError("handler bug")

    consumer = EventConsumer(
        database, nats.url, Subscription(durable=durable, subjects=(kind,), max_deliver=3),
        always_fails,
    )  # fmt: skip
    consumer.start()
    try:
        first = await dead.next_msg(timeout=30)
        second = await dead.next_msg(timeout=30)
    finally:
        await consumer.stop()
        await connection.close()
    reasons = sorted(
        (m.headers or {}).get("Lastmile-Dead-Letter-Reason", "") for m in (first, second)
    )
    assert reasons[0].startswith("RuntimeError('handler bug')")
    assert reasons[1].startswith("unreadable envelope")
    assert await handled_count(database) == 0


async def test_a_consumer_restarted_with_other_subjects_takes_the_new_configuration(
    database: Database, nats: LocalNats
) -> None:
    durable = f"c{uuid.uuid4().hex[:8]}"
    first_kind, second_kind = event_type(), event_type()
    first = EventConsumer(database, nats.url, Subscription(durable, (first_kind,)), record)
    first.start()
    await emit(database, first_kind, "d", 1)
    relay = outbox.OutboxRelay(database, nats.url, service="tests", poll_seconds=0.1)
    relay.start()
    try:
        await eventually(lambda: _at_least(database, 1), "the first subject's event")
        await first.stop()
        second = EventConsumer(database, nats.url, Subscription(durable, (second_kind,)), record)
        second.start()
        await emit(database, second_kind, "d", 2)
        await eventually(lambda: _at_least(database, 2), "the second subject's event")
        await second.stop()
    finally:
        await relay.stop()
    assert await handled_count(database) == 2
