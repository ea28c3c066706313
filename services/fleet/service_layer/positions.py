"""Courier positions: the hot path of every ping, and their coalesced way out.

A ping only updates memory (no database, no broker, no log line, not even a metric: the
received-fixes counter is bumped once per flush). Each courier's newest fix goes to
dispatch in a PositionBatch every `dispatch_flush_seconds` (or as soon as `batch_size`
couriers moved), and, for a courier carrying a delivery (ASSIGNED or DELIVERING: the
only positions tracking shows), to tracking at most once per `tracking_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from services.fleet.domain.latest_positions import LatestPositions
from services.fleet.domain.values import Fix
from services.fleet.service_layer import metrics
from services.fleet.service_layer.ports import DispatchFeed, PositionPublisher, PositionReport
from services.fleet.service_layer.roster import Roster, Tracked
from services.runtime.background import finish

log = logging.getLogger("lastmile.fleet")


class PositionRelay:
    """The newest fix of each courier, in memory and on its way to dispatch and tracking."""

    def __init__(
        self,
        roster: Roster,
        feed: DispatchFeed,
        publisher: PositionPublisher,
        *,
        dispatch_flush_seconds: float,
        tracking_seconds: float = 1.0,
        batch_size: int = 1000,
    ) -> None:
        self._roster, self._feed, self._publisher = roster, feed, publisher
        self._dispatch_flush_seconds = dispatch_flush_seconds
        self._tracking_seconds = tracking_seconds
        self._for_dispatch = LatestPositions(batch_size)
        # courier_id -> newest fix, for couriers that carried a delivery when it came.
        self._for_tracking: dict[str, Fix] = {}
        self._received = 0  # fixes received since the counter was last bumped
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def record(self, tracked: Tracked, fix: Fix, count: int) -> None:
        """`fix` is the newest of `count` fixes just received; older than the one held,
        it changes nothing."""
        self._received += count
        held = tracked.last_fix
        if held is not None and fix.recorded_ns <= held.recorded_ns:
            return
        tracked.last_fix = fix
        courier = tracked.courier
        if courier.delivery is not None:
            self._for_tracking[courier.courier_id] = fix
        if self._for_dispatch.add(courier.courier_id, fix):
            self._flush_to_dispatch()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="position-relay")

    async def stop(self) -> None:
        self._stopping.set()
        await finish(self._task, grace=5.0, name="position-relay")

    async def _run(self) -> None:
        await asyncio.gather(
            self._every(self._dispatch_flush_seconds, self._to_dispatch),
            self._every(self._tracking_seconds, self._to_tracking),
        )

    async def _every(self, seconds: float, flush: Callable[[], Awaitable[None]]) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
            try:
                await flush()
            except Exception:  # a failed flush must not end the relay; the next one follows
                log.warning("position flush failed", exc_info=True)

    async def _to_dispatch(self) -> None:
        self._flush_to_dispatch()

    def _flush_to_dispatch(self) -> None:
        if self._received:
            metrics.LOCATION_UPDATES.inc(self._received)
            self._received = 0
        fixes = self._for_dispatch.take()
        if fixes:
            self._feed.positions_moved(fixes)

    async def _to_tracking(self) -> None:
        fixes, self._for_tracking = self._for_tracking, {}
        reports = []
        for courier_id, fix in fixes.items():
            # Only while the courier still carries a delivery, and with the one carried now.
            tracked = self._roster.get(courier_id)
            delivery = tracked.courier.delivery if tracked is not None else None
            if delivery is not None:
                reports.append(PositionReport(courier_id, fix, delivery.delivery_id))
        if not reports:
            return
        try:
            await self._publisher.publish(reports)
        except Exception:
            metrics.TRACKING_POSITION_DROPS.inc(len(reports))
            raise
