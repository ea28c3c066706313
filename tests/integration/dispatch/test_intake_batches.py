"""dispatch's effects after commit with the runtime consumer's batches: a batch of
delivery events is one transaction, and the effects its events hold back for the
matcher run after that one commit, in event order; a failed event's do not run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats as nats_client
import pytest
from google.protobuf import timestamp_pb2
from nats.js.errors import NotFoundError

from lastmile.events.v1 import envelope_pb2
from services.devstack import LocalNats, LocalPostgres
from services.dispatch.adapters.postgres_intake import CommitHookDatabase, intake_for
from services.runtime.database import Database, migrate
from services.runtime.events import streams
from services.runtime.events.consumer import EventConsumer, Subscription
from services.runtime.events.envelope import new_envelope
from tests.integration.dispatch.polling import eventually

pytestmark = pytest.mark.slow
# The runtime's inbox and outbox, and a `handled` table.
MIGRATIONS = Path(__file__).parent.parent / "events_migrations"


class CommitCounting(Database):
    """Counts the transactions that committed, beneath CommitHookDatabase's effects."""

    commits = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with super().transaction() as connection:
            yield connection
        self.commits += 1


class ProbeDatabase(CommitHookDatabase, CommitCounting):
    pass


@pytest.fixture
async def database(postgres: LocalPostgres) -> AsyncIterator[ProbeDatabase]:
    name = f"intake_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    await migrate(postgres.dsn(name), MIGRATIONS)
    db = ProbeDatabase(postgres.dsn(name))
    await db.connect()
    yield db
    await db.close()


async def test_a_batchs_effects_run_after_its_one_commit_in_order_without_a_failed_events(
    database: ProbeDatabase, nats: LocalNats
) -> None:
    kind = f"lastmile.delivery.test_{uuid.uuid4().hex[:10]}"
    durable = f"intake_{uuid.uuid4().hex[:8]}"
    events = [
        new_envelope(
            event_type=kind,
            source="tests",
            subject=f"d-{n}",
            sequence=n,
            payload=timestamp_pb2.Timestamp(seconds=n),
        )
        for n in range(6)
    ]
    bad = events[3]
    # (sequence, transactions committed when the effect ran)
    effects: list[tuple[int, int]] = []

    async def handler(connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope) -> None:
        with intake_for(connection) as tx:
            await connection.execute(
                "INSERT INTO handled (event_id, subject, sequence) VALUES ($1, $2, $3)",
                uuid.UUID(envelope.event_id),
                envelope.subject,
                envelope.sequence,
            )
            tx.after_commit(lambda: effects.append((envelope.sequence, database.commits)))
            if envelope.event_id == bad.event_id:
                raise RuntimeError("intake bug")

    connection = await nats_client.connect(nats.url)
    js = connection.jetstream()
    await streams.ensure_stream(js, streams.DELIVERY_EVENTS)
    for envelope in events:  # all there before the consumer: one fetch, one batch
        await js.publish(kind, envelope.SerializeToString())

    async def settled() -> bool:
        try:
            info = await js.consumer_info(streams.DELIVERY_EVENTS.name, durable)
        except NotFoundError:
            return False
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    subscription = Subscription(durable, (kind,), max_deliver=2)
    consumer = EventConsumer(database, nats.url, subscription, handler)
    consumer.start()
    try:
        await eventually(settled, "every event acknowledged or dead-lettered")
    finally:
        await consumer.stop()
        await connection.close()
    # One commit for the batch (the failed event's retry commits too, handling nothing),
    # and every effect ran after it: none before, none of the failed event's.
    assert effects == [(e.sequence, 1) for e in events if e is not bad]
    rows = await database.pool.fetch("SELECT sequence FROM handled ORDER BY id")
    assert [r["sequence"] for r in rows] == [e.sequence for e in events if e is not bad]
