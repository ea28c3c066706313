"""Pending deliveries: what dispatch knows of a delivery that has no courier yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ServiceLevel
from services.shared_kernel.stop import Stop

if TYPE_CHECKING:
    from services.dispatch.domain.offers import Offer


class QueueState(StrEnum):
    """Where a pending delivery is in matching."""

    WAITING = "WAITING"  # nobody eligible is free; retried when a courier becomes IDLE
    OFFERED = "OFFERED"  # an offer to a courier is open
    ASSIGNING = "ASSIGNING"  # the courier accepted; orders.AssignCourier is in flight


@dataclass(frozen=True, slots=True)
class DeliveryTerms:
    """The delivery as orders published it, with the contacts (kept for the assignment)."""

    delivery_id: str
    pickup: Stop
    dropoff: Stop
    parcel: Parcel
    service_level: ServiceLevel
    price: Money
    created_at: datetime
    # Where the delivery's trace goes on (W3C trace context: traceparent, tracestate),
    # so that its offers join it; opaque here, and no part of the terms' identity.
    trace_context: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(slots=True)
class PendingDelivery:
    """A delivery in the queue; `offer` is set while OFFERED or ASSIGNING."""

    terms: DeliveryTerms
    enqueued_at: datetime
    state: QueueState = QueueState.WAITING
    offer: Offer | None = None
    offer_count: int = 0
    declined_by: set[str] = field(default_factory=set)
    # A cancel arrived while the assignment was in flight; its outcome decides what
    # the courier is told.
    cancelled: bool = False

    @property
    def delivery_id(self) -> str:
        return self.terms.delivery_id

    @property
    def priority(self) -> tuple[int, datetime, str]:
        """Matching order: express first, then the longest waiting."""
        express = self.terms.service_level is ServiceLevel.EXPRESS
        return (0 if express else 1, self.enqueued_at, self.delivery_id)

    @property
    def age_key(self) -> tuple[datetime, str]:
        return (self.enqueued_at, self.delivery_id)
