"""The transactional outbox: events are written in the same transaction as the state
change that caused them, and a relay publishes them to JetStream afterwards.

The relay publishes in outbox order, a batch at a time over one connection: the whole
batch is sent, its acknowledgements are awaited together, and the acknowledged prefix is
marked published in one statement. The event id travels as Nats-Msg-Id, so a re-publish
after a crash (between publish and mark), a lost ack or a failed batch is dropped by
JetStream's de-duplication. Events enter the stream in outbox order, so per-aggregate
order holds, with one exception that pipelining brings: when JetStream refuses an event
(no stream for its subject, a stream that is not loaded yet) and accepts a later one of
the same batch, the refused one arrives after it, once re-sent; the envelope's sequence
still says which came first.
One relay per database is active (a PostgreSQL advisory lock); others stand by.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError
from prometheus_client import Counter, Gauge
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from lastmile.events.v1 import envelope_pb2
from services.runtime.background import finish, keep_running
from services.runtime.database import Database
from services.runtime.dependencies import DependencyLost, unreachable_dependency
from services.runtime.events import broker, streams

log = logging.getLogger("lastmile.outbox")

# Each producing service's first migration runs these (see its migrations/ folder).
OUTBOX_DDL = (
    """
CREATE TABLE outbox (
    position     bigserial PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    subject      text        NOT NULL,
    envelope     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
)""",
    "CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL",
)
_CHANNEL = "lastmile_outbox"
# How long a batch's publishes may wait for JetStream's acknowledgements.
_ACK_SECONDS = 5.0
# nats-py's default limit of pending async publishes per JetStream context: a batch fits in
# any context, the relay's own or one a test passes to publish_pending.
_MAX_BATCH = 4000

OUTBOX_PUBLISHED = Counter(
    "lastmile_outbox_published_total", "Outbox events published to the broker.", ["service"]
)
OUTBOX_PENDING = Gauge("lastmile_outbox_pending", "Outbox events not yet published.", ["service"])
OUTBOX_LAG = Gauge(
    "lastmile_outbox_lag_seconds",
    "Age of the oldest unpublished outbox event (0 when caught up).",
    ["service"],
)


async def append(
    connection: asyncpg.Connection,
    envelope: envelope_pb2.EventEnvelope,
    *,
    subject: str | None = None,
) -> None:
    """Record `envelope` for publishing on `subject` (default: its type); call inside the
    state change's transaction."""
    await append_all(connection, (envelope,), None if subject is None else (subject,))


async def append_all(
    connection: asyncpg.Connection,
    envelopes: Sequence[envelope_pb2.EventEnvelope],
    subjects: Sequence[str] | None = None,
) -> None:
    """Record `envelopes` for publishing, in order, in one statement, each on its subject
    in `subjects` (default: its type); call inside the state change's transaction."""
    if envelopes:
        await connection.execute(_APPEND_ALL, *event_parameters(envelopes, subjects))


def with_events(change: str, *, guard: str, first_parameter: int) -> str:
    """One statement that makes a state change and records its events: `change` is a list
    of CTEs, one of which, `guard`, yields a row only if the change was made (an UPDATE ...
    RETURNING, for example); only then are the events bound at $first_parameter and the
    next two (`event_parameters`) appended to the outbox, in order, and the relay woken.
    The statement yields one row if the change was made and none otherwise. Being one
    statement, it commits or fails as a whole, also outside a transaction, and costs one
    round trip instead of BEGIN, the change, the outbox, NOTIFY and COMMIT."""
    ids, subjects, envelopes = (f"${first_parameter + n}" for n in range(3))
    return (
        f"WITH {change}, outbox_appended AS ("
        " INSERT INTO outbox (event_id, subject, envelope)"
        " SELECT event.id, event.subject, event.envelope"
        f" FROM unnest({ids}::uuid[], {subjects}::text[], {envelopes}::bytea[])"
        " WITH ORDINALITY AS event (id, subject, envelope, position)"
        f" WHERE EXISTS (SELECT FROM {guard}) ORDER BY event.position)"
        # pg_notify is NOTIFY as a function: delivered at commit, only if it commits.
        f" SELECT pg_notify('{_CHANNEL}', '') FROM {guard}"
    )


def event_parameters(
    envelopes: Sequence[envelope_pb2.EventEnvelope],
    subjects: Sequence[str] | None = None,
) -> tuple[list[uuid.UUID], list[str], list[bytes]]:
    """The three parameters `with_events` binds: event ids, subjects (default: each
    envelope's type) and envelopes."""
    if subjects is not None and len(subjects) != len(envelopes):
        raise ValueError("one subject per envelope")
    return (
        [uuid.UUID(envelope.event_id) for envelope in envelopes],
        [envelope.type for envelope in envelopes] if subjects is None else list(subjects),
        [envelope.SerializeToString() for envelope in envelopes],
    )


_APPEND_ALL = with_events("always AS (SELECT)", guard="always", first_parameter=1)


class LeaderConnectionLost(DependencyLost):
    """The connection that held the relay's advisory lock closed, and the lock with it."""

    def __str__(self) -> str:
        return f"{self.args[0]} lost the database connection that held its lock"


class OutboxRelay:
    """Publishes a service's outbox to JetStream until stopped."""

    def __init__(
        self,
        database: Database,
        nats_url: str,
        *,
        service: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        keep_published_seconds: float = 3600.0,
    ) -> None:
        self._database = database
        self._nats_url = nats_url
        self._service = service
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._keep_published_seconds = keep_published_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._nats: Client | None = None
        self._last_cleanup = 0.0
        self._lock_key = self.lock_key(service)
        if not 0 < batch_size <= _MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {_MAX_BATCH}, not {batch_size}")

    @staticmethod
    def lock_key(service: str) -> int:
        """The advisory lock key: stable per service, so one relay per database publishes."""
        return zlib.crc32(f"lastmile-outbox-{service}".encode())

    def start(self) -> None:
        name = f"outbox-relay-{self._service}"
        self._task = asyncio.create_task(
            keep_running(self._run, name=name, stopping=self._stopping), name=name
        )

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        await finish(self._task, grace=10.0)
        if self._nats is not None:
            await broker.close(self._nats)

    async def _run(self) -> None:
        async with self._database.pool.acquire() as leader:
            while not await leader.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                if await self._sleep(self._poll_seconds * 5):
                    return
            # The lock and the LISTEN live as long as this connection's session. When the
            # database closes it (a restart), both are gone: the relay must start over
            # rather than publish without the lock, and nothing is left to release.
            lost = asyncio.Event()

            def connection_lost(_: object) -> None:
                lost.set()
                self._wake.set()

            leader.add_termination_listener(connection_lost)
            await leader.add_listener(_CHANNEL, self._notified)
            try:
                await self._relay(lost)
            finally:
                # asyncpg reports a termination with call_soon: let one that has just
                # happened reach connection_lost before deciding what is left to release.
                await asyncio.sleep(0)
                if not lost.is_set():
                    leader.remove_termination_listener(connection_lost)
                    await leader.remove_listener(_CHANNEL, self._notified)
                    await leader.execute("SELECT pg_advisory_unlock($1)", self._lock_key)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _relay(self, lost: asyncio.Event) -> None:
        if self._nats is not None:
            await self._nats.close()
        self._nats = await broker.connect(self._nats_url, name=f"{self._service}-outbox")
        js = self._nats.jetstream()
        for spec in streams.ALL_STREAMS:
            await streams.ensure_stream(js, spec)
        while not self._stopping.is_set():
            if lost.is_set():
                raise LeaderConnectionLost(f"outbox-relay-{self._service}")
            async for attempt in AsyncRetrying(
                wait=wait_exponential_jitter(multiplier=0.2, max=10),
                retry=retry_if_exception_type((NatsError, JetStreamError, TimeoutError, OSError)),
                sleep=self._sleep_unless_stopping,
                before_sleep=_log_retry,
            ):
                with attempt:
                    if self._stopping.is_set():
                        return
                    # Cleared before reading, not after: a commit notified while this
                    # pass runs (past its SELECT) wakes the next pass at once instead of
                    # waiting out the poll.
                    self._wake.clear()
                    published = await self.publish_pending(js)
            if published < self._batch_size:
                await self._sleep(self._poll_seconds, wake=True)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publish one batch in order; returns how many were published. Stops at the
        first failure, after recording what was published before it.

        The whole batch is sent before any acknowledgement is awaited: messages from one
        connection enter the stream in the order they were sent, so pipelining keeps the
        order and costs one round trip per batch, not one per event. Only the unbroken
        prefix of acknowledged events is marked published, in one statement; a later
        event that did reach the stream is sent again next time and dropped as a
        duplicate (Nats-Msg-Id)."""
        rows = await self._database.pool.fetch(
            "SELECT position, event_id::text, subject, envelope FROM outbox"
            " WHERE published_at IS NULL ORDER BY position LIMIT $1",
            self._batch_size,
        )
        acknowledgements: list[asyncio.Future[Any]] = []
        published = 0
        try:
            for row in rows:
                # No wait_stall (on Python 3.11 its wait_for is a task per publish): `js`
                # allows a batch's worth of pending publishes, so none ever stalls.
                acknowledgements.append(
                    await js.publish_async(
                        row["subject"], row["envelope"], headers={"Nats-Msg-Id": row["event_id"]}
                    )
                )
            if acknowledgements:
                await asyncio.wait(acknowledgements, timeout=_ACK_SECONDS)
        finally:
            # Also when cancelled (stopping) or a publish raised: what was acknowledged
            # before the first gap is marked, the rest is sent again.
            published = _acknowledged_prefix(acknowledgements)
            for acknowledged in acknowledgements[published:]:
                acknowledged.cancel()
            if published:
                await self._database.pool.execute(
                    "UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])",
                    [row["position"] for row in rows[:published]],
                )
                OUTBOX_PUBLISHED.labels(self._service).inc(published)
            if published == len(rows) < self._batch_size:
                # Caught up: the short batch was everything pending when it was read.
                self._caught_up()
            else:
                await self._record_lag()
            await self._clean_up()
        if published < len(acknowledgements):
            raise _failure_of(acknowledgements[published:])
        return published

    def _caught_up(self) -> None:
        OUTBOX_PENDING.labels(self._service).set(0)
        OUTBOX_LAG.labels(self._service).set(0.0)

    async def _record_lag(self) -> None:
        row = await self._database.pool.fetchrow(
            "SELECT count(*) AS pending,"
            " COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS lag"
            " FROM outbox WHERE published_at IS NULL"
        )
        if row is not None:
            OUTBOX_PENDING.labels(self._service).set(row["pending"])
            OUTBOX_LAG.labels(self._service).set(float(row["lag"]))

    async def _clean_up(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_cleanup < 60:
            return
        self._last_cleanup = now
        await self._database.pool.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
            self._keep_published_seconds,
        )

    async def _sleep(self, seconds: float, *, wake: bool = False) -> bool:
        """Sleep, or return early when stopping (or woken); True if stopping."""
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wake:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        _, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        return self._stopping.is_set()


def _acknowledged_prefix(acknowledgements: list[asyncio.Future[Any]]) -> int:
    """How many of `acknowledgements`, from the first, JetStream acknowledged."""
    for count, acknowledged in enumerate(acknowledgements):
        if not acknowledged.done() or acknowledged.cancelled() or acknowledged.exception():
            return count
    return len(acknowledgements)


def _failure_of(unacknowledged: list[asyncio.Future[Any]]) -> BaseException:
    """Why the first of `unacknowledged` (all settled or cancelled by now) was not
    acknowledged: what JetStream answered, or a timeout."""
    for acknowledged in unacknowledged[1:]:
        if not acknowledged.cancelled():
            acknowledged.exception()  # read, so that asyncio reports none as never retrieved
    first = unacknowledged[0]
    if first.cancelled():
        return TimeoutError("JetStream did not acknowledge a publish in time")
    failure = first.exception()
    assert failure is not None  # _acknowledged_prefix stopped at it
    return failure


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    if failure is not None and unreachable_dependency(failure) is not None:
        # The relay just lags while the broker (or the database) is away; the outage itself
        # is reported once, by the broker connection's callbacks or the dependency monitor.
        log.info("the outbox waits: %r", failure, extra={"attempt": state.attempt_number})
        return
    log.warning(
        "publishing the outbox failed; will retry",
        extra={"attempt": state.attempt_number, "error": repr(failure)},
    )
