"""What orders published, read straight from JetStream with nats-py (not through any
consumer of ours): how many events of one type the delivery stream holds per delivery."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Collection

import nats
from nats.js.errors import NotFoundError

from lastmile.events.v1 import envelope_pb2
from services.runtime.events.streams import DELIVERY_EVENTS

EVENT_WAIT_SECONDS = 90.0


async def events_per_delivery(nats_url: str, event_type: str) -> Counter[str]:
    """Delivery id -> number of `event_type` messages (e.g. "lastmile.delivery.created",
    published on `<type>.<region>`) in the stream, in every region, duplicates included."""
    connection = await nats.connect(nats_url, connect_timeout=5, allow_reconnect=False)
    try:
        js = connection.jetstream(timeout=5)
        counts: Counter[str] = Counter()
        sequence = 1
        while True:
            try:
                message = await js.get_msg(
                    DELIVERY_EVENTS.name, seq=sequence, subject=f"{event_type}.*", next=True
                )
            except NotFoundError:
                return counts
            # orders names the delivery as the envelope's subject (event_envelopes.py).
            counts[envelope_pb2.EventEnvelope.FromString(message.data or b"").subject] += 1
            sequence = (message.seq or sequence) + 1
    finally:
        await connection.close()


async def events_once_published(
    nats_url: str, event_type: str, deliveries: Collection[str]
) -> Counter[str]:
    """The counts of `events_per_delivery`, once every one of `deliveries` has at least one
    event (the outbox relay publishes after the commit) or EVENT_WAIT_SECONDS have passed."""
    give_up = time.monotonic() + EVENT_WAIT_SECONDS
    while True:
        try:
            counts = await events_per_delivery(nats_url, event_type)
        except (OSError, nats.errors.Error):
            counts = Counter()  # NATS itself is coming back
        if all(counts[delivery] for delivery in deliveries) or time.monotonic() > give_up:
            return counts
        await asyncio.sleep(0.5)
