"""The event pipeline on a real PostgreSQL and a real NATS JetStream: outbox, relay,
de-duplication, durable consumers with an inbox, and dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import nats as nats_client
import pytest
from google.protobuf import timestamp_pb2
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NoStreamResponseError, NotFoundError
from prometheus_client import REGISTRY

from lastmile.events.v1 import envelope_pb2
from services.devstack import LocalNats, LocalPostgres
from services.runtime.database import Database, migrate
from services.runtime.events import outbox, streams
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


# Batches: the events of one fetch are handled in one transaction, each in a savepoint.


def envelopes(kind: str, count: int) -> list[envelope_pb2.EventEnvelope]:
    return [
        new_envelope(
            event_type=kind,
            source="tests",
            subject=f"d-{n}",
            sequence=n,
            payload=timestamp_pb2.Timestamp(seconds=n),
        )
        for n in range(count)
    ]


async def publish_all(nats: LocalNats, kind: str, events: list[envelope_pb2.EventEnvelope]) -> None:
    """Straight onto the stream, each under a message id of its own (so that the same
    event twice is two messages), before any consumer is there: one fetch gets them all."""
    connection = await nats_client.connect(nats.url)
    try:
        js = connection.jetstream()
        await streams.ensure_stream(js, streams.DELIVERY_EVENTS)
        for envelope in events:
            await js.publish(
                kind, envelope.SerializeToString(), headers={"Nats-Msg-Id": uuid.uuid4().hex}
            )
    finally:
        await connection.close()


class Recorder:
    """A handler that records each event with the transaction it was handled in, and
    fails (after writing, so that its savepoint has something to roll back) for the
    events in `failing`."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.failing = failing
        self.transactions: dict[str, int] = {}
        self.calls: list[str] = []

    async def __call__(
        self, connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        self.calls.append(envelope.event_id)
        await record(connection, envelope)
        if envelope.event_id in self.failing:
            raise RuntimeError(f"handler bug {envelope.sequence}")
        self.transactions[envelope.event_id] = await connection.fetchval("SELECT txid_current()")


async def consumer_info(nats: LocalNats, durable: str) -> ConsumerInfo | None:
    """The durable consumer's state on the stream; None while it is not created yet."""
    connection = await nats_client.connect(nats.url)
    try:
        info: ConsumerInfo = await connection.jetstream().consumer_info(
            streams.DELIVERY_EVENTS.name, durable
        )
    except NotFoundError:
        return None
    finally:
        await connection.close()
    return info


async def all_acknowledged(nats: LocalNats, durable: str) -> bool:
    info = await consumer_info(nats, durable)
    return info is not None and info.num_pending == 0 and info.num_ack_pending == 0


def handled_total(durable: str, outcome: str) -> float:
    labels = {"consumer": durable, "outcome": outcome}
    return REGISTRY.get_sample_value("lastmile_events_handled_total", labels) or 0.0


async def test_a_batch_of_events_is_handled_in_one_transaction_in_stream_order_then_acked(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    events = envelopes(kind, 40)
    await publish_all(nats, kind, events)
    recorder = Recorder()
    consumer = EventConsumer(database, nats.url, Subscription(durable, (kind,)), recorder)
    consumer.start()
    try:
        await eventually(lambda: all_acknowledged(nats, durable), "every event acknowledged")
    finally:
        await consumer.stop()
    assert recorder.calls == [e.event_id for e in events]
    assert len(set(recorder.transactions.values())) == 1
    rows = await database.pool.fetch("SELECT sequence FROM handled ORDER BY id")
    assert [r["sequence"] for r in rows] == list(range(40))
    inbox = "SELECT count(*) FROM inbox WHERE consumer = $1"
    assert await database.pool.fetchval(inbox, durable) == 40
    assert handled_total(durable, "handled") == 40


async def test_batches_are_no_larger_than_the_batch_size(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    events = envelopes(kind, 25)
    await publish_all(nats, kind, events)
    recorder = Recorder()
    subscription = Subscription(durable, (kind,), batch_size=10)
    consumer = EventConsumer(database, nats.url, subscription, recorder)
    consumer.start()
    try:
        await eventually(lambda: all_acknowledged(nats, durable), "every event acknowledged")
    finally:
        await consumer.stop()
    assert recorder.calls == [e.event_id for e in events]
    per_transaction = Counter(recorder.transactions.values())
    assert max(per_transaction.values()) <= 10
    assert len(per_transaction) >= 3


async def test_a_lone_event_is_handled_at_once_without_waiting_for_a_batch_or_the_fetch_timeout(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    recorder = Recorder()
    # A fetch that waited to fill its batch would return only after this timeout, well
    # past the polling bound below.
    subscription = Subscription(durable, (kind,), fetch_timeout_seconds=30.0)
    consumer = EventConsumer(database, nats.url, subscription, recorder)
    consumer.start()
    try:
        # Let the consumer settle into an idle fetch (its first one has long begun).
        await eventually(lambda: _exists(nats, durable), "the durable consumer")
        await asyncio.sleep(1.0)
        await publish_all(nats, kind, envelopes(kind, 1))
        await eventually(lambda: _at_least(database, 1), "the lone event", limit=10)
    finally:
        await consumer.stop()


async def _exists(nats: LocalNats, durable: str) -> bool:
    return await consumer_info(nats, durable) is not None


async def test_a_duplicate_inside_a_batch_is_skipped_and_acknowledged(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    first, second, third = envelopes(kind, 3)
    # The same event twice in one batch (as when JetStream's dedup window had expired).
    await publish_all(nats, kind, [first, second, first, third, second])
    recorder = Recorder()
    consumer = EventConsumer(database, nats.url, Subscription(durable, (kind,)), recorder)
    consumer.start()
    try:
        await eventually(lambda: all_acknowledged(nats, durable), "every message acknowledged")
    finally:
        await consumer.stop()
    assert recorder.calls == [first.event_id, second.event_id, third.event_id]
    assert await handled_count(database) == 3
    assert len(set(recorder.transactions.values())) == 1
    assert handled_total(durable, "handled") == 3
    assert handled_total(durable, "duplicate") == 2


async def test_a_failing_event_rolls_back_alone_and_is_retried_then_dead_lettered(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    events = envelopes(kind, 5)
    bad = events[2]
    connection = await nats_client.connect(nats.url)
    dead = await connection.jetstream().subscribe(
        f"lastmile.deadletter.{durable}", ordered_consumer=True
    )
    await publish_all(nats, kind, events)
    recorder = Recorder(failing=frozenset({bad.event_id}))
    subscription = Subscription(durable, (kind,), max_deliver=3)
    consumer = EventConsumer(database, nats.url, subscription, recorder)
    consumer.start()
    try:
        dead_letter = await dead.next_msg(timeout=30)
        await eventually(lambda: all_acknowledged(nats, durable), "nothing left to deliver")
    finally:
        await consumer.stop()
        await connection.close()
    good = [e.event_id for e in events if e is not bad]
    # The others went through with the first batch, in one transaction, not held up by
    # the failing one; the failing one was tried max_deliver times, then dead-lettered.
    assert recorder.calls[:5] == [e.event_id for e in events]
    assert recorder.calls[5:] == [bad.event_id, bad.event_id]
    assert len({recorder.transactions[event_id] for event_id in good}) == 1
    assert (dead_letter.headers or {})["Lastmile-Dead-Letter-Reason"].startswith(
        "RuntimeError('handler bug 2')"
    )
    assert envelope_pb2.EventEnvelope.FromString(dead_letter.data).event_id == bad.event_id
    # Its savepoint took its write (and its inbox entry) with it.
    rows = await database.pool.fetch("SELECT event_id FROM handled ORDER BY id")
    assert [str(r["event_id"]) for r in rows] == good
    assert not await _inbox_has(database, bad.event_id)
    assert handled_total(durable, "handled") == 4
    assert handled_total(durable, "retried") == 2
    assert handled_total(durable, "dead_lettered") == 1


async def test_an_event_that_breaks_the_batch_commit_does_not_take_the_others_with_it(
    database: Database, nats: LocalNats
) -> None:
    """A failure that no savepoint contains (here a deferred constraint, checked only at
    commit) fails the batch's transaction: its events are then handled one by one."""
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    table = f"deferred_{uuid.uuid4().hex[:8]}"
    await database.pool.execute(
        f"CREATE TABLE {table} (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)"
    )
    await database.pool.execute(f"INSERT INTO {table} VALUES (1)")
    events = envelopes(kind, 4)
    bad = events[1]

    async def handler(connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope) -> None:
        await record(connection, envelope)
        if envelope.event_id == bad.event_id:
            await connection.execute(f"INSERT INTO {table} VALUES (1)")  # fails at commit

    await publish_all(nats, kind, events)
    subscription = Subscription(durable, (kind,), max_deliver=2)
    consumer = EventConsumer(database, nats.url, subscription, handler)
    consumer.start()
    try:
        await eventually(lambda: _at_least(database, 3), "the three good events")
        await eventually(lambda: all_acknowledged(nats, durable), "nothing left to deliver")
    finally:
        await consumer.stop()
    rows = await database.pool.fetch("SELECT event_id FROM handled ORDER BY id")
    assert [str(r["event_id"]) for r in rows] == [e.event_id for e in events if e is not bad]
    assert handled_total(durable, "dead_lettered") == 1


async def test_a_pipelined_batch_marks_only_the_acknowledged_prefix_and_resends_the_rest_once(
    database: Database, nats: LocalNats
) -> None:
    """The relay sends a whole batch before awaiting acks. An event no stream takes fails
    in the middle: what came before it is marked published, what came after is not (though
    it reached the stream) and is sent again later without arriving twice."""
    kind = event_type()
    before = [await emit(database, kind, "d", n) for n in range(1, 4)]
    await emit(database, "lastmile.nowhere.test", "d", 4)  # no stream captures it
    after = [await emit(database, kind, "d", n) for n in range(5, 8)]
    relay = outbox.OutboxRelay(database, nats.url, service="tests-pipeline", batch_size=50)
    connection = await nats_client.connect(nats.url)
    try:
        js = connection.jetstream()
        await streams.ensure_stream(js, streams.DELIVERY_EVENTS)
        with pytest.raises(NoStreamResponseError):
            await relay.publish_pending(js)
        unpublished = await database.pool.fetch(
            "SELECT event_id FROM outbox WHERE published_at IS NULL ORDER BY position"
        )
        assert len(unpublished) == 1 + len(after)
        await database.pool.execute("DELETE FROM outbox WHERE subject = 'lastmile.nowhere.test'")
        assert await relay.publish_pending(js) == len(after)

        subscription = await js.subscribe(kind, ordered_consumer=True)
        received = [envelope_pb2.EventEnvelope.FromString((await subscription.next_msg(5)).data)
                    for _ in range(len(before) + len(after))]  # fmt: skip
        with pytest.raises(nats_client.errors.TimeoutError):
            await subscription.next_msg(0.5)
    finally:
        await connection.close()
    assert [e.event_id for e in received] == [e.event_id for e in before + after]


# Faults in the middle of a batch: nothing lost, nothing duplicated.


async def stream_events(nats: LocalNats, kind: str) -> list[str]:
    """The event ids the stream holds on `kind`, in stream order, read until it is quiet."""
    connection = await nats_client.connect(nats.url)
    try:
        subscription = await connection.jetstream().subscribe(kind, ordered_consumer=True)
        received: list[str] = []
        while True:
            try:
                message = await subscription.next_msg(timeout=1.0)
            except nats_client.errors.TimeoutError:
                return received
            received.append(envelope_pb2.EventEnvelope.FromString(message.data).event_id)
    finally:
        await connection.close()


async def unpublished(db: Database) -> int:
    return int(await db.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def test_a_relay_that_dies_between_publish_and_mark_leaves_its_successor_nothing_to_duplicate(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    emitted = [await emit(database, kind, f"d-{n % 3}", n) for n in range(30)]
    # The mark fails as a relay killed right after the acks would leave it: not done.
    await database.pool.execute(
        "CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'the relay died before marking'; END $$"
    )
    await database.pool.execute(
        "CREATE TRIGGER refuse_mark BEFORE UPDATE ON outbox"
        " FOR EACH STATEMENT EXECUTE FUNCTION refuse_mark()"
    )
    connection = await nats_client.connect(nats.url)
    try:
        js = connection.jetstream()
        await streams.ensure_stream(js, streams.DELIVERY_EVENTS)
        dying = outbox.OutboxRelay(database, nats.url, service="tests-dies", batch_size=50)
        with pytest.raises(asyncpg.RaiseError, match="died before marking"):
            await dying.publish_pending(js)
        assert await unpublished(database) == 30
        await database.pool.execute("DROP TRIGGER refuse_mark ON outbox")
        successor = outbox.OutboxRelay(database, nats.url, service="tests-dies", batch_size=50)
        assert await successor.publish_pending(js) == 30
    finally:
        await connection.close()
    assert await unpublished(database) == 0
    assert await stream_events(nats, kind) == [e.event_id for e in emitted]


async def test_nats_going_down_while_the_relay_drains_a_backlog_loses_and_duplicates_nothing(
    database: Database, nats: LocalNats
) -> None:
    kind, total = event_type(), 5000
    emitted = envelopes(kind, total)
    async with database.pool.acquire() as connection:
        await connection.copy_records_to_table(
            "outbox",
            records=[(uuid.UUID(e.event_id), e.type, e.SerializeToString()) for e in emitted],
            columns=("event_id", "subject", "envelope"),
        )
    relay = outbox.OutboxRelay(database, nats.url, service="tests-drop", batch_size=100)
    relay.start()
    try:
        await eventually(lambda: _published_at_least(database, 500), "the drain under way")
        async with nats.stopped():
            left = await unpublished(database)
            await asyncio.sleep(1.0)  # batches fail against a broker that is away
        assert left > 0, "the backlog was drained before NATS went down"
        await eventually(lambda: _drained(database), "the rest of the backlog", limit=90)
    finally:
        await relay.stop()
    received = await stream_events(nats, kind)
    assert len(received) == total
    assert set(received) == {e.event_id for e in emitted}


async def _published_at_least(db: Database, count: int) -> bool:
    published = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
    return int(await db.pool.fetchval(published)) >= count


async def _drained(db: Database) -> bool:
    return await unpublished(db) == 0


async def test_a_handler_failing_inside_a_fetched_batch_has_only_its_own_event_redelivered(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    events = envelopes(kind, 6)
    flaky = events[3]
    calls: list[str] = []
    transactions: dict[str, int] = {}

    async def fails_once(
        connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        calls.append(envelope.event_id)
        await record(connection, envelope)
        if envelope.event_id == flaky.event_id and calls.count(flaky.event_id) == 1:
            raise RuntimeError("a passing fault")
        transactions[envelope.event_id] = await connection.fetchval("SELECT txid_current()")

    await publish_all(nats, kind, events)
    consumer = EventConsumer(database, nats.url, Subscription(durable, (kind,)), fails_once)
    consumer.start()
    try:
        await eventually(lambda: _at_least(database, 6), "all six events handled")
        await eventually(lambda: all_acknowledged(nats, durable), "every event acknowledged")
    finally:
        await consumer.stop()
    # The batch went through once; of its events only the failed one came again.
    assert calls == [e.event_id for e in events] + [flaky.event_id]
    others = {transactions[e.event_id] for e in events if e is not flaky}
    assert len(others) == 1
    assert transactions[flaky.event_id] not in others
    rows = await database.pool.fetch("SELECT event_id FROM handled ORDER BY id")
    assert sorted(str(r["event_id"]) for r in rows) == sorted(e.event_id for e in events)
    inbox = "SELECT count(*) FROM inbox WHERE consumer = $1"
    assert await database.pool.fetchval(inbox, durable) == 6
    assert handled_total(durable, "handled") == 6
    assert handled_total(durable, "retried") == 1


async def test_an_event_committed_while_the_relay_publishes_goes_out_without_waiting_for_the_poll(
    database: Database, nats: LocalNats
) -> None:
    kind = event_type()
    late: list[envelope_pb2.EventEnvelope] = []

    class CommitDuringPass(outbox.OutboxRelay):
        """Commits an event while its first pass runs, past that pass's SELECT."""

        async def publish_pending(self, js: JetStreamContext) -> int:
            published = await super().publish_pending(js)
            if not late:
                late.append(await emit(database, kind, "d", 2))
                await asyncio.sleep(0.2)  # its notification arrives while the pass runs
            return published

    first = await emit(database, kind, "d", 1)
    # A poll longer than the wait below: only the notification can publish the late event.
    relay = CommitDuringPass(database, nats.url, service="tests-notified", poll_seconds=30.0)
    relay.start()
    try:
        await eventually(lambda: _drained_with(database, 2), "both events published", limit=10)
    finally:
        await relay.stop()
    assert await stream_events(nats, kind) == [first.event_id, late[0].event_id]


async def _drained_with(db: Database, count: int) -> bool:
    return await _published_at_least(db, count) and await _drained(db)


async def test_an_event_whose_handler_failed_is_handled_by_its_later_copy_in_the_same_batch(
    database: Database, nats: LocalNats
) -> None:
    kind, durable = event_type(), f"c{uuid.uuid4().hex[:8]}"
    twice, once = envelopes(kind, 2)
    calls: list[str] = []

    async def fails_first_call(
        connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        calls.append(envelope.event_id)
        await record(connection, envelope)
        if calls == [twice.event_id]:
            raise RuntimeError("a passing fault")

    # The same event twice in one batch (as when JetStream's dedup window had expired).
    await publish_all(nats, kind, [twice, once, twice])
    consumer = EventConsumer(database, nats.url, Subscription(durable, (kind,)), fails_first_call)
    consumer.start()
    try:
        await eventually(lambda: _counted(durable, "duplicate"), "the failed copy's redelivery")
        await eventually(lambda: all_acknowledged(nats, durable), "every message acknowledged")
    finally:
        await consumer.stop()
    # The failed first copy gave its inbox claim back, so the second copy ran the handler;
    # the first copy's redelivery then found the event handled.
    assert calls == [twice.event_id, once.event_id, twice.event_id]
    rows = await database.pool.fetch("SELECT event_id FROM handled ORDER BY id")
    assert [str(r["event_id"]) for r in rows] == [once.event_id, twice.event_id]
    assert handled_total(durable, "handled") == 2
    assert handled_total(durable, "retried") == 1
    assert handled_total(durable, "duplicate") == 1


async def _counted(durable: str, outcome: str) -> bool:
    return handled_total(durable, outcome) > 0
