"""Positions for tracking, published straight to NATS (not through the outbox): one
CourierPositionChanged envelope per courier carrying a delivery on
`lastmile.courier.position_changed.<id>`, which tracking follows per courier. Plain NATS
publishes into the JetStream stream: fire-and-forget, no ack awaited, so a slow or absent
broker costs positions, never time; a large batch is published in chunks, yielding to the
event loop between them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from google.protobuf import any_pb2
from nats.aio.client import Client

from lastmile.events.v1 import courier_events_pb2, envelope_pb2
from services.fleet.adapters.fleet_messages import location_fields
from services.fleet.adapters.status_events import SOURCE
from services.fleet.service_layer.metrics import TRACKING_POSITION_DROPS
from services.fleet.service_layer.ports import PositionPublisher, PositionReport
from services.runtime import trace_context
from services.runtime.background import finish, keep_running
from services.runtime.events import broker
from services.runtime.events.streams import COURIER_EVENTS, ensure_stream

log = logging.getLogger("lastmile.fleet")
POSITION_CHANGED = "lastmile.courier.position_changed"
# Publishes between two yields to the event loop.
CHUNK = 200
_PAYLOAD_TYPE_URL = (
    f"type.googleapis.com/{courier_events_pb2.CourierPositionChanged.DESCRIPTOR.full_name}"
)


class NatsPositions(PositionPublisher):
    """Connects in the background; until connected, positions are dropped."""

    def __init__(self, url: str, *, name: str) -> None:
        self._url, self._name = url, name
        self._client: Client | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(
            keep_running(self._connect, name="position-publisher", stopping=self._stopping)
        )

    async def stop(self) -> None:
        self._stopping.set()
        await finish(self._task, grace=2.0, name="position-publisher")
        if self._client is not None:
            await broker.close(self._client)

    async def _connect(self) -> None:
        client = await broker.connect(self._url, name=self._name)
        await ensure_stream(client.jetstream(), COURIER_EVENTS)
        self._client = client

    async def publish(self, reports: Sequence[PositionReport]) -> None:
        client = self._client
        if client is None or not client.is_connected:
            TRACKING_POSITION_DROPS.inc(len(reports))
            return
        context = trace_context.current()  # the relay's: no request's trace, normally none
        for start in range(0, len(reports), CHUNK):
            if start:
                # Let the sessions run between chunks: the loop is never held for long.
                await asyncio.sleep(0)
                if not client.is_connected:
                    TRACKING_POSITION_DROPS.inc(len(reports) - start)
                    return
            for report in reports[start : start + CHUNK]:
                await client.publish(
                    f"{POSITION_CHANGED}.{report.courier_id}", _envelope(report, context)
                )


def _envelope(report: PositionReport, context: dict[str, str]) -> bytes:
    """The serialized EventEnvelope of `report`, built from plain values in one go (what
    services.runtime.events.envelope.new_envelope makes, without its datetime round
    trips)."""
    location = location_fields(report.fix)
    position: Any = {"courier_id": report.courier_id, "location": location}  # as location's
    payload = courier_events_pb2.CourierPositionChanged(
        position=position, delivery_id=report.delivery_id
    )
    return envelope_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=POSITION_CHANGED,
        source=SOURCE,
        subject=report.courier_id,
        time=location["recorded_time"],
        trace_context=context,
        payload=any_pb2.Any(type_url=_PAYLOAD_TYPE_URL, value=payload.SerializeToString()),
    ).SerializeToString()
