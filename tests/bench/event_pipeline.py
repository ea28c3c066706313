"""event-pipeline: the outbox relay's publishes/s and a durable consumer's events/s, each
draining a backlog on a real PostgreSQL and NATS JetStream (sync_interval always).

The relay drains `BACKLOG` outbox rows to the stream; the consumer then drains the same
events with a handler that writes one row per event (the inbox insert comes on top).
Each figure is the median round (the faster of the middle two for an even count), with
the CPU each process spent per event: this process (relay or consumer), PostgreSQL (its
whole tree) and NATS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from google.protobuf import timestamp_pb2

from lastmile.events.v1 import envelope_pb2
from services.devstack import LocalNats, LocalPostgres
from services.runtime.database import Database
from services.runtime.events import broker, outbox, streams
from services.runtime.events.consumer import INBOX_DDL, EventConsumer, Subscription
from services.runtime.events.envelope import new_envelope
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.cpu_split import CpuSplit
from tests.bench.machine import describe_machine, load_average
from tests.servers import free_port

BACKLOG = 10_000
ROW = "{:<34} {:>10} {:>14} {:>12} {:>10}"


@dataclass(frozen=True)
class Drain:
    """One drained backlog: how fast, and the CPU µs per event of each process."""

    per_second: float
    cpu_us: dict[str, float]


async def _drained(
    work: Callable[[], Awaitable[None]], roots: dict[str, int], events: int
) -> Drain:
    split = CpuSplit(roots)
    before, own_before = split.sample(), time.process_time()
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    after, own_after = split.sample(), time.process_time()
    # A process tree loses the time of a process that exited in between (a PostgreSQL
    # backend): such a figure reads 0 rather than negative.
    cpu = {name: max(0.0, after.seconds[name] - before.seconds[name]) for name in roots}
    cpu["bench process"] = own_after - own_before
    return Drain(events / elapsed, {name: seconds / events * 1e6 for name, seconds in cpu.items()})


async def _fill_outbox(database: Database, kind: str, count: int) -> None:
    rows = [
        (uuid.UUID(e.event_id), e.type, e.SerializeToString())
        for e in (
            new_envelope(
                event_type=kind,
                source="bench",
                subject=f"delivery-{n % 500}",
                sequence=n,
                payload=timestamp_pb2.Timestamp(seconds=n),
            )
            for n in range(count)
        )
    ]
    async with database.pool.acquire() as connection:
        await connection.copy_records_to_table(
            "outbox", records=rows, columns=("event_id", "subject", "envelope")
        )


async def _relay_round(
    database: Database, nats: LocalNats, roots: dict[str, int], kind: str
) -> Drain:
    await _fill_outbox(database, kind, BACKLOG)
    relay = outbox.OutboxRelay(database, nats.url, service="bench", batch_size=200)
    connection = await broker.connect(nats.url, name="bench-relay")
    js = connection.jetstream()
    await streams.ensure_stream(js, streams.DELIVERY_EVENTS)

    async def drain() -> None:
        while await relay.publish_pending(js):
            pass

    try:
        return await _drained(drain, roots, BACKLOG)
    finally:
        await connection.close()


async def _consumer_round(
    database: Database, nats: LocalNats, roots: dict[str, int], kind: str
) -> Drain:
    handled = 0
    done = asyncio.Event()

    async def record(connection: asyncpg.Connection, envelope: envelope_pb2.EventEnvelope) -> None:
        nonlocal handled
        await connection.execute(
            "INSERT INTO handled (event_id, sequence) VALUES ($1, $2)",
            envelope.event_id,
            envelope.sequence,
        )
        handled += 1
        if handled >= BACKLOG:
            done.set()

    durable = f"bench{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(database, nats.url, Subscription(durable, (kind,)), record)

    async def drain() -> None:
        consumer.start()
        await done.wait()

    try:
        return await _drained(drain, roots, BACKLOG)
    finally:
        await consumer.stop()


async def _run(shape: LoadShape) -> None:
    with tempfile.TemporaryDirectory(prefix="lastmile-bench-events-") as scratch:
        work = Path(scratch)
        postgres = LocalPostgres(work / "postgres", free_port())
        nats = LocalNats(work / "nats", free_port(), free_port())
        try:
            await postgres.start()
            await nats.start()
            await postgres.ensure_database("events")
            database = Database(postgres.dsn("events"))
            await database.connect()
            try:
                for statement in (*outbox.OUTBOX_DDL, *INBOX_DDL):
                    await database.pool.execute(statement)
                await database.pool.execute(
                    "CREATE TABLE handled (event_id text PRIMARY KEY, sequence bigint NOT NULL)"
                )
                roots = {"postgres": postgres.pid or 0, "nats": nats.pid or 0}
                relayed: list[Drain] = []
                consumed: list[Drain] = []
                for _ in range(shape.rounds):
                    kind = f"lastmile.delivery.bench_{uuid.uuid4().hex[:8]}"
                    relayed.append(await _relay_round(database, nats, roots, kind))
                    consumed.append(await _consumer_round(database, nats, roots, kind))
            finally:
                await database.close()
        finally:
            await nats.stop()
            await postgres.stop()
    print()
    print(ROW.format("drain", "events/s", "bench µs/ev", "postgres µs", "nats µs"))
    for label, drains in (
        ("outbox relay -> JetStream", relayed),
        ("consumer -> handler", consumed),
    ):
        median = sorted(drains, key=lambda d: d.per_second)[len(drains) // 2]
        print(
            ROW.format(
                f"{label} ({len(drains)} rounds)",
                f"{median.per_second:,.0f}",
                f"{median.cpu_us['bench process']:.0f}",
                f"{median.cpu_us['postgres']:.0f}",
                f"{median.cpu_us['nats']:.0f}",
            )
        )
        print("  every round, events/s: " + ", ".join(f"{d.per_second:,.0f}" for d in drains))
    print(f"\nload average: {load_average()}")


def run(shape: LoadShape) -> None:
    print(f"event-pipeline: {BACKLOG:,} events per drain; {describe_machine()}")
    print(f"load average: {load_average()}")
    asyncio.run(_run(shape))


EVENT_PIPELINE = Benchmark(
    name="event-pipeline",
    summary="outbox relay publishes/s and consumer events/s, draining a backlog (PG + NATS)",
    run=run,
    tools=(),
)
