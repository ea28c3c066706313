"""The commands and queries orders' use cases accept, named in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.orders.domain.delivery import Assignment, DeliveryStatus
from services.orders.domain.request import DeliveryRequest
from services.runtime.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class CreateDelivery:
    """Create (or, for a known idempotency key, return) a delivery for the caller."""

    request: DeliveryRequest
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class ImportItem:
    """One item of a bulk import: its key as sent, and its command or why it is invalid."""

    idempotency_key: str
    command: CreateDelivery | InvalidArgument


@dataclass(frozen=True, slots=True)
class ListDeliveries:
    """One page of the caller's deliveries, newest first."""

    page_size: int = 0
    page_token: str = ""
    statuses: frozenset[DeliveryStatus] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class CancelDelivery:
    """Cancel a delivery that has not been picked up."""

    delivery_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CourierCommand:
    """A courier-driven transition of one delivery, by the courier of one offer."""

    delivery_id: str
    assignment: Assignment


class AssignCourier(CourierCommand):
    """Give a PENDING delivery to the courier who accepted the offer."""


class MarkPickedUp(CourierCommand):
    """Record that the assigned courier collected the parcel."""


class MarkDelivered(CourierCommand):
    """Record that the assigned courier handed the parcel over."""
