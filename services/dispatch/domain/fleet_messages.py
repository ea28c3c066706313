"""What dispatch tells a fleet replica about one of its couriers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.offers import Offer


class CancellationReason(StrEnum):
    """Why an offer, or the assignment made from it, is taken back."""

    DELIVERY_CANCELLED = "delivery_cancelled"
    EXPIRED = "expired"
    NOT_ASSIGNED = "not_assigned"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class OfferToCourier:
    """Show `offer` to its courier (without the contacts)."""

    offer: Offer
    delivery: DeliveryTerms
    # The W3C trace context of the offer's making, for fleet to continue.
    trace_context: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class OfferWithdrawal:
    """Take back an offer or the assignment made from it."""

    courier_id: str
    offer_id: str
    delivery_id: str
    reason: CancellationReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AssignmentToCourier:
    """The courier's accepted offer is now their assignment (with the contacts)."""

    offer: Offer
    delivery: DeliveryTerms
    assigned_at: datetime


FleetMessage = OfferToCourier | OfferWithdrawal | AssignmentToCourier
