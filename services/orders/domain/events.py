"""Domain events: what happened to a delivery, in the past tense. Each carries the
delivery's version after the change, which orders publishes as the event's sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.orders.domain.delivery import Assignment, Delivery, DeliveryStatus


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """Common to every delivery event."""

    delivery_id: str
    version: int
    occurred_at: datetime
    # The delivery's region (its pickup's), which the event's subject names.
    region: str


@dataclass(frozen=True, slots=True)
class DeliveryCreated(DeliveryEvent):
    """A delivery was created and priced; it carries the whole new delivery."""

    delivery: Delivery


@dataclass(frozen=True, slots=True)
class DeliveryAssigned(DeliveryEvent):
    """A courier's accepted offer made the delivery theirs."""

    assignment: Assignment


@dataclass(frozen=True, slots=True)
class DeliveryPickedUp(DeliveryEvent):
    """The assigned courier collected the parcel."""

    assignment: Assignment


@dataclass(frozen=True, slots=True)
class DeliveryDelivered(DeliveryEvent):
    """The assigned courier handed the parcel over."""

    assignment: Assignment


@dataclass(frozen=True, slots=True)
class DeliveryCancelled(DeliveryEvent):
    """The delivery was cancelled before pickup."""

    previous_status: DeliveryStatus
    assignment: Assignment | None
    reason: str
