"""The delivery aggregate and its state machine:
PENDING → ASSIGNED → PICKED_UP → DELIVERED, and PENDING or ASSIGNED → CANCELLED.

Deliveries are immutable; every command returns a Transition with the next state and
the event it caused, or the same delivery and no event when the command was already
carried out (which is what makes retries of it safe).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.orders.domain.events import (
    DeliveryAssigned,
    DeliveryCancelled,
    DeliveryCreated,
    DeliveryDelivered,
    DeliveryEvent,
    DeliveryPickedUp,
)
from services.orders.domain.quote import Quote
from services.orders.domain.request import DeliveryRequest
from services.runtime.errors import FailedPrecondition
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ServiceLevel
from services.shared_kernel.stop import Stop


class DeliveryStatus(StrEnum):
    """Where a delivery is in its lifecycle; DELIVERED and CANCELLED are final."""

    PENDING = "PENDING"
    ASSIGNED = "ASSIGNED"
    PICKED_UP = "PICKED_UP"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"

    @property
    def contract_name(self) -> str:
        # Clients know statuses by the contract's enum names, so errors quote those.
        return f"DELIVERY_STATUS_{self.value}"


@dataclass(frozen=True, slots=True)
class Assignment:
    """The courier who accepted a dispatch offer, and that offer."""

    courier_id: str
    offer_id: str


class InvalidState(FailedPrecondition):
    """The delivery's state does not allow the command; retrying will not help."""

    def __init__(self, delivery: Delivery, action: str) -> None:
        metadata = {"current_state": delivery.status.contract_name}
        if delivery.assignment is not None:
            metadata["courier_id"] = delivery.assignment.courier_id
            metadata["offer_id"] = delivery.assignment.offer_id
        super().__init__(
            f"delivery {delivery.id} is {delivery.status.contract_name} and cannot be {action}",
            reason="INVALID_STATE",
            metadata=metadata,
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A command's outcome: the delivery afterwards and its event (None: nothing changed)."""

    delivery: Delivery
    event: DeliveryEvent | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One parcel carried from pickup to dropoff, owned by a customer and/or a merchant."""

    id: str
    customer_id: str | None
    merchant_id: str | None
    pickup: Stop
    dropoff: Stop
    parcel: Parcel
    service_level: ServiceLevel
    quote_id: str
    price: Money
    status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    version: int
    # The region of the pickup point, fixed at creation; it names the events' subjects.
    region: str
    assignment: Assignment | None = None
    assigned_at: datetime | None = None
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""

    @classmethod
    def create(
        cls,
        delivery_id: str,
        request: DeliveryRequest,
        quote: Quote,
        *,
        region: str,
        customer_id: str | None,
        merchant_id: str | None,
        now: datetime,
    ) -> tuple[Delivery, DeliveryCreated]:
        """A new PENDING delivery at version 1, and its creation event."""
        delivery = cls(
            id=delivery_id,
            customer_id=customer_id,
            merchant_id=merchant_id,
            pickup=request.pickup,
            dropoff=request.dropoff,
            parcel=request.parcel,
            service_level=request.service_level,
            quote_id=quote.quote_id,
            price=quote.price,
            status=DeliveryStatus.PENDING,
            created_at=now,
            updated_at=now,
            version=1,
            region=region,
        )
        return delivery, DeliveryCreated(delivery_id, 1, now, region, delivery)

    def assign(self, assignment: Assignment, now: datetime) -> Transition:
        if self.status is DeliveryStatus.PENDING:
            assigned = replace(
                self._advance(DeliveryStatus.ASSIGNED, now), assignment=assignment, assigned_at=now
            )
            return Transition(
                assigned, DeliveryAssigned(self.id, assigned.version, now, self.region, assignment)
            )
        return self._unchanged_if_done_by(assignment, "assigned", after=DeliveryStatus.ASSIGNED)

    def mark_picked_up(self, assignment: Assignment, now: datetime) -> Transition:
        if self.status is DeliveryStatus.ASSIGNED and self.assignment == assignment:
            picked_up = replace(self._advance(DeliveryStatus.PICKED_UP, now), picked_up_at=now)
            return Transition(
                picked_up,
                DeliveryPickedUp(self.id, picked_up.version, now, self.region, assignment),
            )
        return self._unchanged_if_done_by(assignment, "picked up", after=DeliveryStatus.PICKED_UP)

    def mark_delivered(self, assignment: Assignment, now: datetime) -> Transition:
        if self.status is DeliveryStatus.PICKED_UP and self.assignment == assignment:
            delivered = replace(self._advance(DeliveryStatus.DELIVERED, now), delivered_at=now)
            return Transition(
                delivered,
                DeliveryDelivered(self.id, delivered.version, now, self.region, assignment),
            )
        return self._unchanged_if_done_by(assignment, "delivered", after=DeliveryStatus.DELIVERED)

    def cancel(self, reason: str, now: datetime) -> Transition:
        if self.status is DeliveryStatus.CANCELLED:
            return Transition(self, None)
        if self.status not in (DeliveryStatus.PENDING, DeliveryStatus.ASSIGNED):
            raise InvalidState(self, "cancelled once picked up")
        cancelled = replace(
            self._advance(DeliveryStatus.CANCELLED, now), cancelled_at=now, cancel_reason=reason
        )
        event = DeliveryCancelled(
            self.id, cancelled.version, now, self.region, self.status, self.assignment, reason
        )
        return Transition(cancelled, event)

    def _advance(self, status: DeliveryStatus, now: datetime) -> Delivery:
        """The next version, in `status`; every change bumps the version by exactly one."""
        return replace(self, status=status, updated_at=now, version=self.version + 1)

    def _unchanged_if_done_by(
        self, assignment: Assignment, action: str, *, after: DeliveryStatus
    ) -> Transition:
        """A repeat of a transition this courier and offer already made (or went beyond)
        succeeds unchanged; anything else is refused with the current state."""
        if self.assignment == assignment and self.status in _REACHED[after]:
            return Transition(self, None)
        raise InvalidState(self, action)


_COURIER_PATH = (DeliveryStatus.ASSIGNED, DeliveryStatus.PICKED_UP, DeliveryStatus.DELIVERED)
# The courier-driven statuses at or beyond each one.
_REACHED = {status: frozenset(_COURIER_PATH[i:]) for i, status in enumerate(_COURIER_PATH)}
