"""What dispatch decides for couriers this replica holds: offers (shown by the offer
desk), assignments, and withdrawals of offers or assignments.

Each message is handled in a task of its own under the courier's lock, so the Link
reader never waits for a courier, and one courier's messages stay in order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from services.fleet.domain.offers import Withdrawal
from services.fleet.domain.values import HeldDelivery, HeldOffer
from services.fleet.service_layer.background_tasks import BackgroundTasks
from services.fleet.service_layer.ledger import CourierLedger
from services.fleet.service_layer.offers import OfferDesk
from services.fleet.service_layer.ports import Clock
from services.fleet.service_layer.roster import Roster
from services.fleet.service_layer.session_messages import AssignmentShown, OfferWithdrawn
from services.runtime.errors import DomainError

log = logging.getLogger("lastmile.fleet")


class DispatchDecisions:
    """Applies dispatch's messages; every method returns at once."""

    def __init__(
        self,
        roster: Roster,
        ledger: CourierLedger,
        offers: OfferDesk,
        tasks: BackgroundTasks,
        clock: Clock,
    ) -> None:
        self._roster, self._ledger, self._offers = roster, ledger, offers
        self._tasks, self._clock = tasks, clock

    def offer_arrived(
        self, courier_id: str, offer: HeldOffer, trace_context: Mapping[str, str]
    ) -> None:
        self._offers.offer_arrived(courier_id, offer, trace_context)

    def assignment_arrived(self, courier_id: str, delivery: HeldDelivery) -> None:
        self._tasks.spawn(self._assign(courier_id, delivery), name=f"assign-{courier_id}")

    def withdrawal_arrived(self, courier_id: str, withdrawal: Withdrawal) -> None:
        self._tasks.spawn(self._withdraw(courier_id, withdrawal), name=f"withdraw-{courier_id}")

    async def _assign(self, courier_id: str, delivery: HeldDelivery) -> None:
        async with self._roster.changing(courier_id):
            tracked = self._roster.get(courier_id)
            if tracked is None:
                log.warning("assignment for a courier not held here", extra=_ids(courier_id))
                return
            try:
                change = tracked.courier.assign(delivery, self._clock())
            except DomainError as refused:
                log.warning("assignment ignored: %s", refused.message, extra=_ids(courier_id))
                return
            if change is not None and await self._ledger.commit_patiently(tracked, change):
                tracked.cancel_offer_timer()
                if tracked.session is not None:
                    tracked.session.send(AssignmentShown(delivery))

    async def _withdraw(self, courier_id: str, withdrawal: Withdrawal) -> None:
        async with self._roster.changing(courier_id):
            tracked = self._roster.get(courier_id)
            change = (
                tracked.courier.withdraw(withdrawal.offer_id, self._clock()) if tracked else None
            )
            if tracked is None or change is None:
                log.info("withdrawal of nothing held", extra=_ids(courier_id, withdrawal.offer_id))
                return
            if await self._ledger.commit_patiently(tracked, change):
                tracked.cancel_offer_timer()
                if tracked.session is not None:
                    tracked.session.send(OfferWithdrawn(withdrawal))


def _ids(courier_id: str, offer_id: str = "") -> dict[str, str]:
    return {"courier_id": courier_id, "offer_id": offer_id}
