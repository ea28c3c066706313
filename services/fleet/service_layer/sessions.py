"""Opening and ending courier sessions: resume or fresh start, replacing an older
session, and what the end of a session means for the courier.

A session that ends without a successor leaves the courier disconnected but in their
status for `resume_grace_seconds`, so that a reconnect resumes where the app was; after
that the courier becomes OFFLINE, unless committed to a delivery. One sweeper task
watches every session's heartbeat and queue; no session has a timer of its own.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from services.fleet.domain.courier import Change, Courier
from services.fleet.domain.rate_limit import TokenBucket
from services.fleet.domain.values import ShiftEnd
from services.fleet.service_layer import metrics
from services.fleet.service_layer.background_tasks import BackgroundTasks
from services.fleet.service_layer.ledger import CourierLedger, CourierMovedAway
from services.fleet.service_layer.offers import OfferDesk
from services.fleet.service_layer.ports import Clock, CourierStore
from services.fleet.service_layer.roster import Roster, Tracked
from services.fleet.service_layer.session import Session
from services.fleet.service_layer.session_messages import ClosingReason, SessionStarted
from services.runtime.draining import Drain
from services.runtime.errors import Conflict

log = logging.getLogger("lastmile.fleet")


@dataclass(frozen=True)
class SessionPolicy:
    """The timing and limits of every session."""

    heartbeat_interval_seconds: float
    heartbeat_timeout_seconds: float
    resume_grace_seconds: float
    queue_size: int
    messages_per_second: float
    message_burst: int
    # A queue full for this long marks a slow consumer.
    slow_consumer_seconds: float
    # A closed session whose stream has not ended after this long is cut off.
    close_grace_seconds: float = 2.0


class SessionDesk:
    """Every session of this replica, from SessionStarted to the courier's disconnect."""

    def __init__(
        self,
        roster: Roster,
        ledger: CourierLedger,
        store: CourierStore,
        offers: OfferDesk,
        tasks: BackgroundTasks,
        clock: Clock,
        policy: SessionPolicy,
        drain: Drain,
    ) -> None:
        self._roster, self._ledger, self._store, self._offers = roster, ledger, store, offers
        self._tasks, self._clock, self.policy, self._drain = tasks, clock, policy, drain

    async def open(self, courier_id: str) -> Session:
        """A new session whose first message is SessionStarted; an older session of the
        courier is closed (REPLACED)."""
        if self._drain.started:
            raise Drain.reconnect_error()
        policy = self.policy
        session = Session(
            str(uuid.uuid4()),
            courier_id,
            queue_size=policy.queue_size,
            bucket=TokenBucket(policy.messages_per_second, policy.message_burst, time.monotonic()),
        )
        async with self._roster.changing(courier_id):
            tracked, resumed = await self._connect(courier_id, session.session_id)
            previous, tracked.session = tracked.session, session
            tracked.last_seen = time.time()
            if previous is not None:
                previous.close(ClosingReason.REPLACED)
            session.send(
                SessionStarted(
                    session.session_id,
                    resumed,
                    tracked.courier,
                    policy.heartbeat_interval_seconds,
                    policy.heartbeat_timeout_seconds,
                )
            )
            await self._offers.resume(tracked)
        metrics.SESSIONS.inc()
        return session

    async def _connect(self, courier_id: str, session_id: str) -> tuple[Tracked, bool]:
        for _ in range(2):  # a second time after finding the courier moved away
            now, seen = self._clock(), time.time()
            tracked = self._roster.get(courier_id)
            if tracked is not None:
                live = tracked.session is not None and tracked.session.live
                resumed = live or seen - tracked.last_seen <= self.policy.resume_grace_seconds
                change = tracked.courier.connect(session_id, now, resume=resumed)
            else:
                tracked, change, resumed = await self._load(courier_id, session_id, seen)
            try:
                await self._ledger.commit(tracked, change)
            except CourierMovedAway:
                continue
            if self._roster.get(courier_id) is not tracked:
                self._roster.hold(tracked)
            self._offers.given_back(tracked, change)
            return tracked, resumed
        raise Conflict(f"courier {courier_id} is connecting elsewhere at the same time; retry")

    async def _load(
        self, courier_id: str, session_id: str, seen: float
    ) -> tuple[Tracked, Change, bool]:
        now = self._clock()
        stored = await self._store.load(courier_id)
        if stored is None:
            change = Courier.first_connect(courier_id, session_id, now)
            return Tracked(change.after, None, seen), change, False
        last_seen = stored.last_seen.timestamp() if stored.last_seen is not None else 0.0
        resumed = seen - last_seen <= self.policy.resume_grace_seconds
        tracked = Tracked(stored.courier, stored.last_fix, last_seen)
        return tracked, stored.courier.connect(session_id, now, resume=resumed), resumed

    def ended(self, session: Session) -> None:
        """The stream of `session` is over, for whatever reason."""
        metrics.SESSIONS.dec()
        metrics.SESSION_CLOSES.labels(session.end_reason).inc()
        tracked = self._roster.get(session.courier_id)
        if tracked is None or tracked.session is not session:
            return  # replaced, or let go
        tracked.session = None
        if session.closing is not ClosingReason.DRAINING:  # drained couriers are kept as they are
            self._tasks.spawn(self._after(session), name=f"session-end-{session.courier_id}")

    async def _after(self, session: Session) -> None:
        timed_out = session.closing is ClosingReason.HEARTBEAT_TIMEOUT
        await self.disconnect(session.courier_id, session.session_id, timed_out=timed_out)

    async def disconnect(self, courier_id: str, session_id: str | None, *, timed_out: bool) -> None:
        """Mark the courier disconnected, or (timed out) OFFLINE unless committed; only if
        no newer session took over meanwhile."""
        async with self._roster.changing(courier_id):
            tracked = self._roster.get(courier_id)
            if tracked is None or tracked.session is not None:
                return
            courier = tracked.courier
            if session_id is not None and courier.session_id != session_id:
                return
            now = self._clock()
            change = (
                courier.time_out(
                    now, ShiftEnd.HEARTBEAT_TIMEOUT if session_id else ShiftEnd.DISCONNECTED
                )
                if timed_out
                else courier.disconnect(now)
            )
            if change is None:
                return
            try:
                await self._ledger.commit(tracked, change)
            except Exception:
                log.warning(
                    "could not record the courier's disconnect",
                    exc_info=True,
                    extra={"courier_id": courier_id},
                )
                return
            self._offers.given_back(tracked, change)
