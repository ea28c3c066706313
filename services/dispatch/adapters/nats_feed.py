"""The delivery events from JetStream: a durable, idempotent consumer that runs only
while this replica leads (a fresh one per term: a stopped consumer does not restart)."""

from __future__ import annotations

from services.dispatch.adapters.delivery_events import SUBJECTS
from services.dispatch.service_layer.ports import DeliveryFeed
from services.runtime.database import Database
from services.runtime.events.consumer import EventConsumer, Handler, Subscription


class NatsDeliveryFeed(DeliveryFeed):
    """Standbys consume nothing: unacknowledged events wait in the stream for the next
    leader, so a fail-over loses none and two replicas never split the events."""

    def __init__(self, database: Database, nats_url: str, durable: str, handler: Handler) -> None:
        self._database = database
        self._nats_url = nats_url
        self._subscription = Subscription(durable=durable, subjects=SUBJECTS)
        self._handler = handler
        self._consumer: EventConsumer | None = None

    def start(self) -> None:
        self._consumer = EventConsumer(
            self._database, self._nats_url, self._subscription, self._handler
        )
        self._consumer.start()

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()
