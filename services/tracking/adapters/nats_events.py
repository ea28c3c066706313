"""The broker feeds over NATS JetStream, without any durable state.

All delivery events come through one ephemeral ordered consumer on
`lastmile.delivery.>` (their NATS subjects name the kind and the region, not the
delivery), routed by the envelope's subject to the hub that watches that delivery.
Each followed courier gets an ephemeral ordered consumer on their position subject
that starts with their last fix. Ordered consumers recover by themselves after a
reconnect or a gap, resuming after the last message seen, so no change is lost while
the connection comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from services.runtime.events import broker
from services.runtime.events.streams import COURIER_EVENTS, DELIVERY_EVENTS, ensure_stream
from services.tracking.adapters.envelope_reading import read_fix, read_status_change
from services.tracking.domain.progress import CourierFix, StatusChange
from services.tracking.service_layer.ports import EventSource, Subscription

log = logging.getLogger("lastmile.tracking")

DELIVERY_SUBJECTS = "lastmile.delivery.>"
POSITION_SUBJECT = "lastmile.courier.position_changed.{courier_id}"

ChangeSink = Callable[[StatusChange], None]


class _Route(Subscription):
    """One delivery's entry in the shared delivery-events feed."""

    def __init__(self, routes: dict[str, ChangeSink], delivery_id: str) -> None:
        self._routes = routes
        self._delivery_id = delivery_id

    async def close(self) -> None:
        self._routes.pop(self._delivery_id, None)


class _Consumer(Subscription):
    def __init__(self, subscription: NatsSubscription) -> None:
        self._subscription = subscription

    async def close(self) -> None:
        await self._subscription.unsubscribe()


class NatsEventSource(EventSource):
    """Delivery changes and courier positions from JetStream."""

    def __init__(self, url: str, *, name: str) -> None:
        self._url = url
        self._name = name
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._all_changes: NatsSubscription | None = None
        self._routes: dict[str, ChangeSink] = {}

    async def start(self) -> None:
        self._client = await broker.connect(self._url, name=self._name)
        self._js = self._client.jetstream()
        for spec in (DELIVERY_EVENTS, COURIER_EVENTS):
            await ensure_stream(self._js, spec)
        self._all_changes = await self._js.subscribe(
            DELIVERY_SUBJECTS,
            cb=self._on_delivery_event,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )

    async def stop(self) -> None:
        if self._client is not None:
            await broker.close(self._client)
        self._client = self._js = self._all_changes = None

    async def ping(self, limit_seconds: float) -> None:
        """The dependency monitor's probe of the broker connection."""
        await broker.ping(broker.require_connected(self._client), limit_seconds)

    async def delivery_changes(self, delivery_id: str, deliver: ChangeSink) -> Subscription:
        # A watch set up while the broker is away would miss changes without a word: the
        # caller gets UNAVAILABLE instead, and watches again.
        broker.require_connected(self._client)
        if delivery_id in self._routes:
            raise ValueError(f"delivery {delivery_id} already has a subscriber")
        self._routes[delivery_id] = deliver
        return _Route(self._routes, delivery_id)

    async def courier_positions(
        self, courier_id: str, deliver: Callable[[CourierFix], None]
    ) -> Subscription:
        if self._js is None:
            raise RuntimeError("the event source is not started")
        broker.require_connected(self._client)

        async def on_position(message: Msg) -> None:
            envelope = _envelope(message)
            if envelope is not None:
                payload = courier_events_pb2.CourierPositionChanged()
                if envelope.payload.Unpack(payload):
                    deliver(read_fix(payload))

        subscription = await self._js.subscribe(
            POSITION_SUBJECT.format(courier_id=courier_id),
            cb=on_position,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        )
        return _Consumer(subscription)

    async def _on_delivery_event(self, message: Msg) -> None:
        envelope = _envelope(message)
        if envelope is None:
            return
        deliver = self._routes.get(envelope.subject)
        if deliver is None:
            return
        change = read_status_change(envelope)
        if change is not None:
            deliver(change)


def _envelope(message: Msg) -> envelope_pb2.EventEnvelope | None:
    try:
        return envelope_pb2.EventEnvelope.FromString(message.data)
    except DecodeError:
        log.warning("undecodable event skipped", extra={"nats_subject": message.subject})
        return None
