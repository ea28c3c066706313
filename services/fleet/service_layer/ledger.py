"""Committing a courier's change: persisted with its event first, then applied in
memory and reported to dispatch, so that nobody hears of a change that was not kept."""

from __future__ import annotations

import logging

from services.fleet.domain.courier import Change
from services.fleet.service_layer.ports import CourierStore, CourierView, DispatchFeed
from services.fleet.service_layer.roster import Roster, Tracked
from services.fleet.service_layer.session_messages import ClosingReason
from services.runtime.errors import Conflict

log = logging.getLogger("lastmile.fleet")


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

    def let_go(self, tracked: Tracked) -> None:
        courier_id = tracked.courier.courier_id
        log.warning("courier moved to another replica", extra={"courier_id": courier_id})
        if tracked.session is not None:
            tracked.session.close(ClosingReason.REPLACED)
        if self._roster.get(courier_id) is tracked:
            self._roster.release(courier_id)
