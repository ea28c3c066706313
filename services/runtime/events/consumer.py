"""Durable JetStream consumers with explicit acks and an idempotent inbox.

Each fetched batch of events is handled in ONE database transaction: one statement puts
the batch's event ids into the consumer's inbox, and each event that was not there
already (not a redelivery, not a republished event) runs its handler, in stream order,
in a savepoint of its own. A failing handler rolls back its own savepoint only and takes
its event back out of the inbox; the others commit together, and only then are their
messages acknowledged (at least once: the inbox makes a redelivery harmless). Acks stay
one per message (the consumer's AckPolicy.EXPLICIT: an ack-all would also ack a failed
event before it); nats-py writes a batch's acks to the socket together. The failed
event is not acknowledged: it is redelivered with a backoff and moved to
`lastmile.deadletter.<consumer>` after `max_deliver` attempts; an event that cannot even
be parsed goes there at once. A batch whose transaction itself fails (the database is
away, a handler broke the transaction) is tried again one event per transaction, so
that no event can take the others down with it.

A handler that holds effects back until the commit must drop those of a call that
raised: its savepoint was rolled back (dispatch's PostgresIntake does so).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as FetchTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from lastmile.events.v1 import envelope_pb2
from services.runtime.background import finish, keep_running
from services.runtime.database import Database
from services.runtime.events import broker, streams
from services.runtime.events.envelope import trace_context_of

log = logging.getLogger("lastmile.consumer")
tracer = trace.get_tracer("lastmile.events")

INBOX_DDL = (
    """
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
)""",
)

EVENTS_HANDLED = Counter(
    "lastmile_events_handled_total",
    "Events taken from the broker, by outcome (handled, duplicate, retried, dead_lettered).",
    ["consumer", "outcome"],
)
CONSUMER_PENDING = Gauge(
    "lastmile_consumer_pending", "Events in the stream not yet delivered to the consumer.",
    ["consumer"],
)  # fmt: skip

# The batch's events this consumer has not seen: one statement for the whole batch (a
# duplicate inside it is claimed once, by its first copy).
_CLAIM = (
    "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
_CLAIM_ONE = (
    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true"
)
_UNCLAIM = "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2"

Handler = Callable[[asyncpg.Connection, envelope_pb2.EventEnvelope], Awaitable[None]]


@dataclass(frozen=True)
class _Event:
    message: Msg
    envelope: envelope_pb2.EventEnvelope
    event_id: uuid.UUID


# What became of one event in a committed batch: "handled", "duplicate", or the failure
# its handler raised (its savepoint was rolled back).
_Outcome = str | Exception


@dataclass(frozen=True)
class Subscription:
    """What a consumer reads and how it treats failures."""

    durable: str  # the consumer's name; also its inbox key and dead-letter suffix
    subjects: tuple[str, ...]  # e.g. ("lastmile.delivery.created",)
    stream: streams.StreamSpec = streams.DELIVERY_EVENTS
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    # Events handled in one transaction at most. A fetch returns what the stream holds
    # at once (up to this many) and never waits to fill a batch: a lone event is
    # handled as soon as it arrives.
    batch_size: int = 64
    # How long an idle fetch waits for a first event; it only paces the idle loop.
    fetch_timeout_seconds: float = 1.0

    @property
    def dead_letter_subject(self) -> str:
        return f"lastmile.deadletter.{self.durable}"


class EventConsumer:
    """Pulls a durable consumer's events and hands each to `handler` exactly once."""

    def __init__(
        self, database: Database, nats_url: str, subscription: Subscription, handler: Handler
    ) -> None:
        self._database = database
        self._nats_url = nats_url
        self._subscription = subscription
        self._handler = handler
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._nats: Client | None = None

    def start(self) -> None:
        name = f"consumer-{self._subscription.durable}"
        self._task = asyncio.create_task(
            keep_running(self._run, name=name, stopping=self._stopping), name=name
        )

    async def stop(self) -> None:
        self._stopping.set()
        await finish(self._task, grace=10.0)
        if self._nats is not None:
            await broker.close(self._nats)

    async def _run(self) -> None:
        subscription = self._subscription
        if self._nats is not None:
            await self._nats.close()
        self._nats = await broker.connect(self._nats_url, name=subscription.durable)
        js = self._nats.jetstream()
        await streams.ensure_stream(js, subscription.stream)
        await streams.ensure_stream(js, streams.DEAD_LETTERS)
        config = ConsumerConfig(
            durable_name=subscription.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=subscription.max_deliver,
            ack_wait=subscription.ack_wait_seconds,
            filter_subjects=list(subscription.subjects),
        )
        # Creates the durable consumer, or brings an existing one to this configuration.
        await js.add_consumer(subscription.stream.name, config=config)
        pull = await js.pull_subscribe_bind(subscription.durable, stream=subscription.stream.name)
        while not self._stopping.is_set():
            try:
                messages = await pull.fetch(
                    subscription.batch_size, timeout=subscription.fetch_timeout_seconds
                )
            # nats-py raises its own TimeoutError, or asyncio's when the deadline runs
            # out between its two pull requests; both mean "nothing new".
            except (FetchTimeout, TimeoutError):
                await self._record_pending(pull)
                continue
            # One batch at a time, in stream order: events of one aggregate are handled
            # in the order they were published.
            await self._consume(js, messages)

    async def _record_pending(self, pull: JetStreamContext.PullSubscription) -> None:
        try:
            info = await pull.consumer_info()
        except Exception:  # metrics must never stop consumption
            return
        CONSUMER_PENDING.labels(self._subscription.durable).set(info.num_pending or 0)

    async def _consume(self, js: JetStreamContext, messages: list[Msg]) -> None:
        events: list[_Event] = []
        for message in messages:
            try:
                envelope = envelope_pb2.EventEnvelope.FromString(message.data)
                event_id = uuid.UUID(envelope.event_id)
            except Exception as unreadable:
                await self._dead_letter(js, message, f"unreadable envelope: {unreadable}")
                continue
            events.append(_Event(message, envelope, event_id))
        if not events:
            return
        try:
            outcomes = await self._handle(events)
        except Exception as batch_failure:
            if len(events) == 1:
                outcomes = [batch_failure]
            else:
                log.warning(
                    "a batch's transaction failed; handling its events one by one",
                    extra={"events": len(events)},
                    exc_info=True,
                )
                outcomes = [await self._handle_alone(event) for event in events]
        await self._settle(js, events, outcomes)

    async def _handle_alone(self, event: _Event) -> _Outcome:
        try:
            return (await self._handle([event]))[0]
        except Exception as failure:
            return failure

    async def _handle(self, events: list[_Event]) -> list[_Outcome]:
        """All `events` in one transaction, each in a savepoint of its own; returns once
        the transaction has committed, and raises if it did not.

        One statement claims the whole batch in the inbox; only a claimed event gets a
        savepoint and its handler, and a handler that fails gives its claim back (its
        event is then retried, as if never seen). Savepoints are not released one by
        one: each is rolled back to or committed with the rest, and a release would be
        one more round trip per event."""
        durable = self._subscription.durable
        outcomes: list[_Outcome] = []
        async with self._database.transaction() as connection:
            claimed = {
                row[0]
                for row in await connection.fetch(_CLAIM, durable, [e.event_id for e in events])
            }
            # Events whose claim a failed handler gave back: a later copy in the batch
            # (the same event published twice) claims again, as it would alone.
            released: set[uuid.UUID] = set()
            for event in events:
                event_id = event.event_id
                if event_id in claimed:
                    claimed.discard(event_id)
                elif event_id in released:
                    if not await connection.fetchval(_CLAIM_ONE, durable, event_id):
                        outcomes.append("duplicate")
                        continue
                    released.discard(event_id)
                else:
                    outcomes.append("duplicate")
                    continue
                failure = await self._run_handler(connection, event)
                if failure is None:
                    outcomes.append("handled")
                else:
                    await connection.execute(_UNCLAIM, durable, event_id)
                    released.add(event_id)
                    outcomes.append(failure)
        return outcomes

    async def _run_handler(self, connection: asyncpg.Connection, event: _Event) -> Exception | None:
        """The handler for `event` in a savepoint, rolled back if it raised; the failure."""
        # Each handler runs in the trace its event was published in.
        with tracer.start_as_current_span(
            f"consume {event.envelope.type}",
            context=trace_context_of(event.envelope),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self._subscription.durable,
            },
        ) as span:
            await connection.execute("SAVEPOINT lastmile_event")
            try:
                await self._handler(connection, event.envelope)
            except Exception as failure:
                await connection.execute("ROLLBACK TO SAVEPOINT lastmile_event")
                span.record_exception(failure)
                span.set_status(trace.StatusCode.ERROR, repr(failure))
                return failure
        return None

    async def _settle(
        self, js: JetStreamContext, events: list[_Event], outcomes: list[_Outcome]
    ) -> None:
        """Acks for the committed events (written to the broker together: nats-py
        buffers them until its flusher runs), a retry or a dead letter for the failed."""
        durable = self._subscription.durable
        for event, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, str):
                await event.message.ack()
                EVENTS_HANDLED.labels(durable, outcome).inc()
            else:
                await self._failed(js, event, outcome)

    async def _failed(self, js: JetStreamContext, event: _Event, failure: Exception) -> None:
        message = event.message
        delivered = message.metadata.num_delivered or 1
        if delivered >= self._subscription.max_deliver:
            await self._dead_letter(js, message, repr(failure))
            return
        log.warning(
            "event handling failed; will be redelivered",
            extra={"event_id": event.envelope.event_id, "attempt": delivered},
            exc_info=failure,
        )
        EVENTS_HANDLED.labels(self._subscription.durable, "retried").inc()
        await message.nak(delay=min(2.0**delivered * 0.1, 10.0))

    async def _dead_letter(self, js: JetStreamContext, message: Msg, reason: str) -> None:
        log.error(
            "event moved to dead letters",
            extra={"subject": message.subject, "reason": reason},
        )
        headers = dict(message.headers or {})
        headers.update({"Lastmile-Dead-Letter-Reason": reason[:500],
                        "Lastmile-Original-Subject": message.subject})  # fmt: skip
        await js.publish(
            self._subscription.dead_letter_subject, message.data, headers=headers, timeout=5
        )
        await message.term()
        EVENTS_HANDLED.labels(self._subscription.durable, "dead_lettered").inc()
