"""Durable JetStream consumers with explicit acks and an idempotent inbox.

Each event is handled inside one database transaction that also records its id in the
consumer's inbox; a redelivered event finds its id there and is only acknowledged. An
event that keeps failing is moved to `lastmile.deadletter.<consumer>` after
`max_deliver` attempts, and an event that cannot even be parsed goes there at once.
"""

from __future__ import annotations

import asyncio
import contextlib
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

Handler = Callable[[asyncpg.Connection, envelope_pb2.EventEnvelope], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """What a consumer reads and how it treats failures."""

    durable: str  # the consumer's name; also its inbox key and dead-letter suffix
    subjects: tuple[str, ...]  # e.g. ("lastmile.delivery.created",)
    stream: streams.StreamSpec = streams.DELIVERY_EVENTS
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    batch_size: int = 64

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
        await finish(self._task, grace=10.0, name=self._task.get_name() if self._task else "")
        if self._nats is not None:
            # A broker that is down cannot be flushed to; do not wait for it forever.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nats.close(), timeout=5)

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
                messages = await pull.fetch(subscription.batch_size, timeout=1)
            # nats-py raises its own TimeoutError, or asyncio's when the deadline runs
            # out between its two pull requests; both mean "nothing new".
            except (FetchTimeout, TimeoutError):
                await self._record_pending(pull)
                continue
            for message in messages:
                await self._consume(js, message)

    async def _record_pending(self, pull: JetStreamContext.PullSubscription) -> None:
        try:
            info = await pull.consumer_info()
        except Exception:  # metrics must never stop consumption
            return
        CONSUMER_PENDING.labels(self._subscription.durable).set(info.num_pending or 0)

    async def _consume(self, js: JetStreamContext, message: Msg) -> None:
        durable = self._subscription.durable
        try:
            envelope = envelope_pb2.EventEnvelope.FromString(message.data)
            event_id = uuid.UUID(envelope.event_id)
        except Exception as unreadable:
            await self._dead_letter(js, message, f"unreadable envelope: {unreadable}")
            return
        with tracer.start_as_current_span(
            f"consume {envelope.type}",
            context=trace_context_of(envelope),
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.consumer.group.name": durable},
        ):
            try:
                async with self._database.transaction() as connection:
                    fresh = await connection.fetchval(
                        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        durable,
                        event_id,
                    )
                    if fresh:
                        await self._handler(connection, envelope)
            except Exception as failure:
                delivered = message.metadata.num_delivered or 1
                if delivered >= self._subscription.max_deliver:
                    await self._dead_letter(js, message, repr(failure))
                else:
                    log.warning(
                        "event handling failed; will be redelivered",
                        extra={"event_id": envelope.event_id, "attempt": delivered},
                        exc_info=True,
                    )
                    EVENTS_HANDLED.labels(durable, "retried").inc()
                    await message.nak(delay=min(2.0**delivered * 0.1, 10.0))
                return
            await message.ack()
            EVENTS_HANDLED.labels(durable, "handled" if fresh else "duplicate").inc()

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
