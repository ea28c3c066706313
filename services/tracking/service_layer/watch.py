"""Watching a delivery: its snapshot from orders, then the updates of its shared hub that
are news to this watcher, heartbeats while quiet, and the end at a final status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.runtime.context import Caller
from services.tracking.domain.progress import CourierFix, DeliveryProgress, StatusChange
from services.tracking.service_layer.hub import DeliveryHub, DeliveryHubs, Watcher
from services.tracking.service_layer.ports import DeliveryLookup


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The first update of every watch: the delivery now, and its courier's last fix."""

    state: StatusChange
    record: bytes
    courier_fix: CourierFix | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing happened for a while; the stream is healthy."""


WatchUpdate = Snapshot | StatusChange | CourierFix | Heartbeat


class DeliveryWatch:
    """The WatchDelivery use case."""

    def __init__(
        self, hubs: DeliveryHubs, deliveries: DeliveryLookup, *, heartbeat_seconds: float
    ) -> None:
        self._hubs = hubs
        self._deliveries = deliveries
        self._heartbeat_seconds = heartbeat_seconds

    @asynccontextmanager
    async def watching(
        self, caller: Caller, delivery_id: str
    ) -> AsyncIterator[AsyncIterator[WatchUpdate]]:
        """The watch's updates; leaving the block lets go of the hub, whether or not the
        updates were read to the end (the stream may be cancelled mid-read)."""
        # Join before asking orders, so that no change published meanwhile is missed;
        # whatever the snapshot already covers is dropped by its version.
        hub, watcher = await self._hubs.join(delivery_id)
        try:
            yield self._updates(caller, hub, watcher)
        finally:
            await self._hubs.leave(hub, watcher)

    async def _updates(
        self, caller: Caller, hub: DeliveryHub, watcher: Watcher
    ) -> AsyncIterator[WatchUpdate]:
        sighting = await self._deliveries.get(hub.delivery_id, caller)
        progress = DeliveryProgress()
        progress.apply_change(sighting.state)
        hub.publish_change(sighting.state)
        fix = hub.last_fix
        shown_fix = fix if fix is not None and progress.apply_fix(fix) else None
        yield Snapshot(sighting.state, sighting.record, shown_fix)
        while not progress.finished:
            update = await watcher.next(self._heartbeat_seconds)
            if update is None:
                yield Heartbeat()
            elif isinstance(update, StatusChange):
                if progress.apply_change(update):
                    yield update
            elif progress.apply_fix(update):
                yield update
