"""Assignments made this term, remembered until the courier is done with the delivery,
so that a cancel reaches the courier and an assignment lost with a Link is resent."""

from __future__ import annotations

from services.dispatch.domain.couriers import Courier
from services.dispatch.domain.fleet_messages import AssignmentToCourier


class AssignmentBook:
    """At most one remembered assignment per courier (they carry one at a time)."""

    def __init__(self) -> None:
        self._by_delivery: dict[str, AssignmentToCourier] = {}
        self._delivery_of: dict[str, str] = {}  # courier id -> delivery id

    def remember(self, assignment: AssignmentToCourier) -> None:
        courier_id = assignment.offer.courier_id
        previous = self._delivery_of.get(courier_id)
        if previous is not None:
            self._by_delivery.pop(previous, None)
        self._by_delivery[assignment.offer.delivery_id] = assignment
        self._delivery_of[courier_id] = assignment.offer.delivery_id

    def pop(self, delivery_id: str) -> AssignmentToCourier | None:
        assignment = self._by_delivery.pop(delivery_id, None)
        if assignment is not None:
            self._delivery_of.pop(assignment.offer.courier_id, None)
        return assignment

    def reconcile(self, courier: Courier) -> AssignmentToCourier | None:
        """Given the courier's reported state: the assignment they still wait for (it was
        lost on the way), or None; forgets it once they have moved on."""
        delivery_id = self._delivery_of.get(courier.courier_id)
        if delivery_id is None:
            return None
        assignment = self._by_delivery[delivery_id]
        if courier.holds_offer(assignment.offer.offer_id):
            return assignment
        if not courier.carries_delivery(delivery_id):
            self.pop(delivery_id)
        return None
