"""Committing a courier's change: persisted with its event first, then applied in
memory and reported to dispatch, so that nobody hears of a change that was not kept."""

from __future__ import annotations

import asyncio
import logging

from services.fleet.domain.courier import Change
from services.fleet.service_layer.ports import CourierStore, CourierView, DispatchFeed
from services.fleet.service_layer.roster import Roster, Tracked
from services.fleet.service_layer.session_messages import ClosingReason
from services.runtime.errors import Conflict, DomainError, Unavailable

log = logging.getLogger("lastmile.fleet")
_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)


class CourierMovedAway(Conflict):
    """Another replica changed the courier since this one read it: the courier
    reconnected there, so this replica lets go of it."""

    def __init__(self, courier_id: str) -> None:
        super().__init__(
            f"courier {courier_id} is now served by another session; reconnect",
            reason="CONFLICT",
        )


class CourierLedger:
    """The one way a courier's state changes."""

    def __init__(self, store: CourierStore, roster: Roster, feed: DispatchFeed) -> None:
        self._store = store
        self._roster = roster
        self._feed = feed

    async def commit(self, tracked: Tracked, change: Change) -> None:
        """Call while holding the courier's lock. Raises Unavailable if the database is
        down and CourierMovedAway if another replica changed the courier first."""
        view = CourierView(change.after, tracked.last_fix, tracked.view().last_seen)
        if not await self._store.save(change, view):
            self.let_go(tracked)
            raise CourierMovedAway(change.after.courier_id)
        self._roster.update(tracked, change.after)
        self._feed.courier_changed(view)

    async def commit_patiently(self, tracked: Tracked, change: Change) -> bool:
        """Commit what dispatch (or a deadline) decided, riding out a short database
        outage; False if it could not be kept."""
        for pause in (*_RETRY_SECONDS, None):
            try:
                await self.commit(tracked, change)
                return True
            except Unavailable:
                if pause is None:
                    break
                await asyncio.sleep(pause)
            except DomainError:
                return False
        log.error(
            "courier change lost: database unavailable",
            extra={"courier_id": change.after.courier_id},
        )
        return False

    def let_go(self, tracked: Tracked) -> None:
        courier_id = tracked.courier.courier_id
        log.warning("courier moved to another replica", extra={"courier_id": courier_id})
        if tracked.session is not None:
            tracked.session.close(ClosingReason.REPLACED)
        if self._roster.get(courier_id) is tracked:
            self._roster.release(courier_id)
