"""Reading one courier: from memory when this replica holds them (with the live position),
from the database otherwise (with the position last written there)."""

from __future__ import annotations

from services.fleet.service_layer.ports import CourierStore, CourierView
from services.fleet.service_layer.roster import Roster
from services.runtime.errors import NotFound


class CourierQueries:
    """GetCourier."""

    def __init__(self, roster: Roster, store: CourierStore) -> None:
        self._roster, self._store = roster, store

    async def get(self, courier_id: str) -> CourierView:
        tracked = self._roster.get(courier_id)
        if tracked is not None:
            return tracked.view()
        stored = await self._store.load(courier_id)
        if stored is None:
            raise NotFound(f"courier {courier_id!r} never connected")
        return stored
