"""Positions for tracking, published straight to NATS (not through the outbox): one
CourierPositionChanged envelope per courier on `lastmile.courier.position_changed.<id>`,
which tracking follows per courier. Plain NATS publishes into the JetStream stream:
fire-and-forget, no ack awaited, so a slow or absent broker costs positions, never time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from nats.aio.client import Client

from lastmile.events.v1 import courier_events_pb2
from lastmile.fleet.v1 import courier_pb2
from services.fleet.adapters.fleet_messages import location_message
from services.fleet.adapters.status_events import SOURCE
from services.fleet.service_layer.metrics import QUEUE_DROPS
from services.fleet.service_layer.ports import PositionPublisher, PositionReport
from services.runtime.background import finish, keep_running
from services.runtime.events import broker
from services.runtime.events.envelope import new_envelope
from services.runtime.events.streams import COURIER_EVENTS, ensure_stream

log = logging.getLogger("lastmile.fleet")
POSITION_CHANGED = "lastmile.courier.position_changed"
_DROPS = QUEUE_DROPS.labels("tracking_position")


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
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.close(), timeout=5)

    async def _connect(self) -> None:
        client = await broker.connect(self._url, name=self._name)
        await ensure_stream(client.jetstream(), COURIER_EVENTS)
        self._client = client

    async def publish(self, reports: Sequence[PositionReport]) -> None:
        client = self._client
        if client is None or not client.is_connected:
            _DROPS.inc(len(reports))
            return
        for report in reports:
            envelope = new_envelope(
                event_type=POSITION_CHANGED,
                source=SOURCE,
                subject=report.courier_id,
                payload=courier_events_pb2.CourierPositionChanged(
                    position=courier_pb2.CourierPosition(
                        courier_id=report.courier_id, location=location_message(report.fix)
                    ),
                    delivery_id=report.delivery_id,
                ),
                time=report.fix.recorded_at,
            )
            await client.publish(
                f"{POSITION_CHANGED}.{report.courier_id}", envelope.SerializeToString()
            )
