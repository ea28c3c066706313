"""How offers end, as fleet reports them to dispatch, and why dispatch takes them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OfferOutcome(StrEnum):
    """How an offer ended on the courier's side."""

    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"
    UNDELIVERABLE = "UNDELIVERABLE"


class DeclineReason(StrEnum):
    """Why a courier turned an offer down; an unstated reason counts as OTHER."""

    TOO_FAR = "TOO_FAR"
    PARCEL_UNSUITABLE = "PARCEL_UNSUITABLE"
    PAYOUT_TOO_LOW = "PAYOUT_TOO_LOW"
    UNAVAILABLE = "UNAVAILABLE"
    OTHER = "OTHER"


class WithdrawalReason(StrEnum):
    """Why an offer, or the assignment made from it, was taken back."""

    DELIVERY_CANCELLED = "DELIVERY_CANCELLED"
    EXPIRED = "EXPIRED"
    NOT_ASSIGNED = "NOT_ASSIGNED"
    WITHDRAWN = "WITHDRAWN"


@dataclass(frozen=True, slots=True)
class OfferAnswer:
    """A courier's answer to an offer (or fleet's verdict for them), for dispatch."""

    offer_id: str
    courier_id: str
    delivery_id: str
    outcome: OfferOutcome
    answered_at: datetime
    decline_reason: DeclineReason | None = None


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An offer or assignment taken back, as the courier is told."""

    offer_id: str
    delivery_id: str
    reason: WithdrawalReason
    detail: str = ""
