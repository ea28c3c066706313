"""The couriers this replica holds in memory, with what exists only in memory (latest
fix, last sign of life, live session, recent answers, offer timer), and a lock per
courier that serializes every change of one courier while leaving others free."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from services.fleet.domain.courier import Courier
from services.fleet.domain.recent_answers import RecentAnswers
from services.fleet.domain.values import CourierStatus, Fix
from services.fleet.service_layer import metrics
from services.fleet.service_layer.ports import CourierView
from services.fleet.service_layer.session import Session
from services.runtime.errors import DomainError

# What a handled command answered: None (Ack) or the error; a future while it runs.
Answer = asyncio.Future[DomainError | None]
_GAUGES = {status: metrics.COURIERS.labels(status.value.lower()) for status in CourierStatus}


class Tracked:
    """One courier held by this replica."""

    __slots__ = ("_answers", "courier", "last_fix", "last_seen", "offer_timer", "session")

    def __init__(self, courier: Courier, last_fix: Fix | None, last_seen: float) -> None:
        self.courier = courier
        self.last_fix = last_fix
        self.last_seen = last_seen  # time.time() of the last message from the app
        self.session: Session | None = None
        self.offer_timer: asyncio.TimerHandle | None = None
        self._answers: RecentAnswers[Answer] | None = None  # created on first use

    def answers(self, capacity: int) -> RecentAnswers[Answer]:
        if self._answers is None:
            self._answers = RecentAnswers(capacity)
        return self._answers

    def view(self) -> CourierView:
        return CourierView(self.courier, self.last_fix, datetime.fromtimestamp(self.last_seen, UTC))

    def cancel_offer_timer(self) -> None:
        if self.offer_timer is not None:
            self.offer_timer.cancel()
            self.offer_timer = None


class Roster:
    """courier_id -> Tracked, keeping the couriers-by-status gauge in step."""

    def __init__(self) -> None:
        self._tracked: dict[str, Tracked] = {}
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._tracked)

    def __iter__(self) -> Iterator[Tracked]:
        return iter(list(self._tracked.values()))

    def get(self, courier_id: str) -> Tracked | None:
        return self._tracked.get(courier_id)

    def hold(self, tracked: Tracked) -> None:
        previous = self._tracked.get(tracked.courier.courier_id)
        if previous is not None:
            _GAUGES[previous.courier.status].dec()
        self._tracked[tracked.courier.courier_id] = tracked
        _GAUGES[tracked.courier.status].inc()

    def update(self, tracked: Tracked, courier: Courier) -> None:
        if self._tracked.get(courier.courier_id) is tracked:
            _GAUGES[tracked.courier.status].dec()
            _GAUGES[courier.status].inc()
        tracked.courier = courier

    def release(self, courier_id: str) -> None:
        tracked = self._tracked.pop(courier_id, None)
        if tracked is not None:
            tracked.cancel_offer_timer()
            _GAUGES[tracked.courier.status].dec()

    def reported(self) -> list[CourierView]:
        """What the Link's snapshot carries: every courier with a live session, and every
        disconnected one still committed to a delivery."""
        return [
            tracked.view()
            for tracked in self._tracked.values()
            if (tracked.session is not None and tracked.session.live) or tracked.courier.committed
        ]

    def busy(self, courier_id: str) -> bool:
        """True while a change of the courier runs or waits."""
        return courier_id in self._locks

    @asynccontextmanager
    async def changing(self, courier_id: str) -> AsyncIterator[None]:
        """Hold the courier's lock; locks exist only while someone holds or awaits them."""
        lock, users = self._locks.get(courier_id) or (asyncio.Lock(), 0)
        self._locks[courier_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[courier_id]
            if users == 1:
                del self._locks[courier_id]
            else:
                self._locks[courier_id] = (lock, users - 1)
