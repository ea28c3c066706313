"""One task watching every session of the replica, instead of timers per session:
heartbeat timeouts, slow consumers, closed streams that do not end, and couriers whose
disconnect outlasted the resume grace. On shutdown, it tells every session to reconnect
elsewhere (DRAINING, with jitter) and records all of them as disconnected at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from services.fleet.domain.values import CourierStatus
from services.fleet.service_layer.background_tasks import BackgroundTasks
from services.fleet.service_layer.ports import Clock, CourierStore
from services.fleet.service_layer.roster import Roster, Tracked
from services.fleet.service_layer.session import Session
from services.fleet.service_layer.session_messages import ClosingReason
from services.fleet.service_layer.sessions import SessionDesk
from services.runtime.background import finish
from services.runtime.draining import Drain

log = logging.getLogger("lastmile.fleet")


class SessionWatch:
    """The sweeper and the drain of all sessions."""

    def __init__(
        self,
        desk: SessionDesk,
        roster: Roster,
        store: CourierStore,
        tasks: BackgroundTasks,
        clock: Clock,
        drain: Drain,
        *,
        drain_spread_seconds: float,
    ) -> None:
        self._desk, self._roster, self._store, self._tasks = desk, roster, store, tasks
        self._clock, self._drain, self._spread = clock, drain, drain_spread_seconds
        policy = desk.policy
        self._tick = min(
            1.0, policy.heartbeat_timeout_seconds / 4, policy.slow_consumer_seconds / 2
        )
        self._stopping = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="session-sweeper")
        self._drainer = asyncio.create_task(self._drain_when_told(), name="session-drain")

    async def stop(self) -> None:
        self._stopping.set()
        await finish(self._sweeper, grace=2.0, name="session-sweeper")
        if self._drainer is not None and not self._drain.started:
            self._drainer.cancel()
        await finish(self._drainer, grace=10.0, name="session-drain")

    async def _sweep_forever(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._tick)
            try:
                self.sweep()
            except Exception:  # the sweeper must outlive any one courier's trouble
                log.exception("session sweep failed")

    def sweep(self) -> None:
        wall, monotonic = time.time(), time.monotonic()
        for tracked in self._roster:
            if tracked.session is not None:
                self._check_session(tracked, tracked.session, wall, monotonic)
            elif not self._roster.busy(tracked.courier.courier_id):
                self._check_disconnected(tracked, wall)

    def _check_session(self, tracked: Tracked, session: Session, wall: float, now: float) -> None:
        policy = self._desk.policy
        if session.live:
            full_since = session.queue.full_since
            if wall - tracked.last_seen > policy.heartbeat_timeout_seconds:
                session.close(ClosingReason.HEARTBEAT_TIMEOUT)
            elif full_since is not None and now - full_since > policy.slow_consumer_seconds:
                session.close(ClosingReason.SLOW_CONSUMER)
        elif (
            session.closed_at is not None
            and now - session.closed_at > policy.close_grace_seconds
            and session.task is not None
        ):
            # The app stopped reading, so the stream cannot even deliver SessionClosing.
            session.task.cancel()
            session.task = None

    def _check_disconnected(self, tracked: Tracked, wall: float) -> None:
        courier = tracked.courier
        if courier.committed or wall - tracked.last_seen <= self._desk.policy.resume_grace_seconds:
            return
        if courier.status is CourierStatus.OFFLINE and not courier.connected:
            self._roster.release(courier.courier_id)  # nothing left to keep in memory
            return
        self._tasks.spawn(
            self._desk.disconnect(courier.courier_id, None, timed_out=True),
            name=f"grace-over-{courier.courier_id}",
        )

    async def _drain_when_told(self) -> None:
        await self._drain.wait()
        now, changes = self._clock(), []
        for tracked in self._roster:
            session = tracked.session
            if session is not None and session.live:
                session.close(
                    ClosingReason.DRAINING,
                    failure=Drain.reconnect_error(),
                    reconnect_after=random.uniform(0, self._spread),
                )
            change = tracked.courier.disconnect(now)
            if change is not None and not self._roster.busy(tracked.courier.courier_id):
                self._roster.update(tracked, change.after)
                changes.append((change, tracked.view()))
        try:
            await self._store.save_all(changes)
        except Exception:
            log.warning("could not record the drained couriers as disconnected", exc_info=True)
