"""Per-delivery fan-out: many watchers of one delivery share one upstream subscription.

A hub subscribes once to its delivery's status changes and, while a courier is on the
way, once to that courier's positions, and copies every update that is news into each
watcher's bounded queue. Backpressure: the hub never waits for a watcher. A watcher
whose queue is full is dropped at once (its stream ends with UNAVAILABLE, reason
WATCHER_TOO_SLOW, so it calls again and gets a fresh snapshot); the other watchers and
the broker feed carry on unaffected.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from services.runtime.errors import Unavailable
from services.tracking.domain.progress import CourierFix, DeliveryProgress, StatusChange
from services.tracking.service_layer.ports import EventSource, Subscription

log = logging.getLogger("lastmile.tracking")

Update = StatusChange | CourierFix


class WatcherTooSlow(Unavailable):
    """A watcher fell a whole queue behind and was dropped; calling again resumes it."""

    reason = "WATCHER_TOO_SLOW"


class _Dropped:
    """Queued in place of everything a dropped watcher had not read yet."""


_DROPPED: Final = _Dropped()


class Watcher:
    """One watcher's queue of updates, bounded so that it can never hold the hub up."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._queue: asyncio.Queue[Update | _Dropped] = asyncio.Queue(capacity)
        self.dropped = False

    def offer(self, update: Update) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(update)
        except asyncio.QueueFull:
            self.dropped = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_DROPPED)

    async def next(self, idle_seconds: float) -> Update | None:
        """The next update; None after `idle_seconds` without one. Raises WatcherTooSlow
        once the watcher has been dropped."""
        try:
            async with asyncio.timeout(idle_seconds):
                update = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(update, _Dropped):
            raise WatcherTooSlow(
                f"this watcher fell {self._capacity} updates behind and was dropped; "
                "watch again for a fresh snapshot",
                retry_after=timedelta(0),
            )
        return update


class DeliveryHub:
    """The shared upstream of every watcher of one delivery."""

    def __init__(self, delivery_id: str, events: EventSource, *, queue_capacity: int) -> None:
        self.delivery_id = delivery_id
        self._events = events
        self._queue_capacity = queue_capacity
        self._progress = DeliveryProgress()
        self._watchers: set[Watcher] = set()
        self._lock = asyncio.Lock()
        self._changes: Subscription | None = None
        self._positions: Subscription | None = None
        self._followed: str | None = None
        self._following: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def last_fix(self) -> CourierFix | None:
        return self._progress.last_fix

    @property
    def idle(self) -> bool:
        return not self._watchers

    def add_watcher(self) -> Watcher:
        watcher = Watcher(self._queue_capacity)
        self._watchers.add(watcher)
        return watcher

    def remove_watcher(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    async def open(self) -> None:
        """Subscribe to the delivery's changes, once however many watchers join."""
        async with self._lock:
            if self._changes is None and not self._closed:
                self._changes = await self._events.delivery_changes(
                    self.delivery_id, self.publish_change
                )

    def publish_change(self, change: StatusChange) -> None:
        """A status change from the broker, or a snapshot a watcher got from orders."""
        if change.delivery_id != self.delivery_id or not self._progress.apply_change(change):
            return
        self._fan_out(change)
        if self._progress.followed_courier != self._followed and not self._closed:
            task = asyncio.create_task(self._follow_courier())
            self._following.add(task)
            task.add_done_callback(self._following.discard)

    def publish_fix(self, fix: CourierFix) -> None:
        if self._progress.apply_fix(fix):
            self._fan_out(fix)

    async def settle(self) -> None:
        """Wait until the courier subscription matches the latest status."""
        while self._following:
            await asyncio.gather(*self._following)

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            for task in self._following:
                task.cancel()
            subscriptions = [s for s in (self._changes, self._positions) if s is not None]
            self._changes = self._positions = None
            self._followed = None
        for subscription in subscriptions:
            await subscription.close()

    def _fan_out(self, update: Update) -> None:
        for watcher in list(self._watchers):
            watcher.offer(update)
            if watcher.dropped:
                log.warning("slow watcher dropped", extra={"delivery_id": self.delivery_id})
                self._watchers.discard(watcher)

    async def _follow_courier(self) -> None:
        async with self._lock:
            wanted = self._progress.followed_courier
            if self._closed or wanted == self._followed:
                return
            if self._positions is not None:
                await self._positions.close()
                self._positions = None
            self._followed = wanted
            if wanted is not None:
                self._positions = await self._events.courier_positions(wanted, self.publish_fix)


class DeliveryHubs:
    """The hubs of the deliveries watched in this process: one per delivery, opened
    with its first watcher and closed with its last."""

    def __init__(self, events: EventSource, *, queue_capacity: int) -> None:
        self._events = events
        self._queue_capacity = queue_capacity
        self._hubs: dict[str, DeliveryHub] = {}

    def __len__(self) -> int:
        return len(self._hubs)

    def get(self, delivery_id: str) -> DeliveryHub | None:
        return self._hubs.get(delivery_id)

    async def join(self, delivery_id: str) -> tuple[DeliveryHub, Watcher]:
        hub = self._hubs.get(delivery_id)
        if hub is None:
            hub = DeliveryHub(delivery_id, self._events, queue_capacity=self._queue_capacity)
            self._hubs[delivery_id] = hub
        watcher = hub.add_watcher()
        try:
            await hub.open()
        except BaseException:
            await self.leave(hub, watcher)
            raise
        return hub, watcher

    async def leave(self, hub: DeliveryHub, watcher: Watcher) -> None:
        hub.remove_watcher(watcher)
        if hub.idle and self._hubs.get(hub.delivery_id) is hub:
            del self._hubs[hub.delivery_id]
            await hub.close()

    async def close(self) -> None:
        hubs, self._hubs = list(self._hubs.values()), {}
        for hub in hubs:
            await hub.close()
