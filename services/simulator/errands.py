"""What a simulated courier is asked to do and how it answers: offers, the errand an
accepted offer becomes, and the courier's choice to accept or decline."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from services.shared_kernel.geo import GeoPoint
from services.simulator.vehicles import Vehicle

# A person reads an offer before answering; never more than half the answer window.
THINKING_SECONDS = (0.3, 2.0)


class DeclineReason(StrEnum):
    """Why a simulated courier turns an offer down."""

    TOO_FAR = "too_far"
    PARCEL_UNSUITABLE = "parcel_unsuitable"
    PAYOUT_TOO_LOW = "payout_too_low"
    UNAVAILABLE = "unavailable"


# The reasons a courier gives when it simply does not want the job.
_RELUCTANT_REASONS = (
    DeclineReason.TOO_FAR,
    DeclineReason.PAYOUT_TOO_LOW,
    DeclineReason.UNAVAILABLE,
)


@dataclass(frozen=True, slots=True)
class OfferedDelivery:
    """An offer as the courier sees it; the window is judged by the server's clock."""

    offer_id: str
    delivery_id: str
    pickup: GeoPoint
    parcel_size: str
    answer_window_seconds: float


@dataclass(frozen=True, slots=True)
class OfferAnswer:
    """Accept, or decline with a reason, after thinking for `delay_seconds`."""

    accept: bool
    delay_seconds: float
    reason: DeclineReason | None = None


def answer_offer(
    offer: OfferedDelivery,
    vehicle: Vehicle,
    accept_probability: float,
    rng: random.Random,
    thinking_seconds: tuple[float, float] = THINKING_SECONDS,
) -> OfferAnswer:
    """Decline what the vehicle cannot carry; otherwise accept with the given probability."""
    delay = min(rng.uniform(*thinking_seconds), max(offer.answer_window_seconds, 0.0) / 2)
    if not vehicle.carries(offer.parcel_size):
        return OfferAnswer(False, delay, DeclineReason.PARCEL_UNSUITABLE)
    if rng.random() < accept_probability:
        return OfferAnswer(True, delay)
    return OfferAnswer(False, delay, rng.choice(_RELUCTANT_REASONS))


@dataclass(slots=True)
class Errand:
    """An assigned delivery: to the pickup, confirm it, to the dropoff, confirm it.

    `confirmation_id` is the client_message_id of the current leg's confirmation once it
    was first sent; a re-send (after UNAVAILABLE, or after a reconnect) reuses it so that
    fleet never applies it twice.
    """

    offer_id: str
    delivery_id: str
    pickup: GeoPoint
    dropoff: GeoPoint
    picked_up: bool = False
    confirmation_id: str | None = None
    awaiting_answer: bool = False
    # Not before this (monotonic) time: the delay fleet's RetryInfo asked for.
    resend_at: float = 0.0

    @property
    def target(self) -> GeoPoint:
        return self.dropoff if self.picked_up else self.pickup

    def confirmation_sent(self, message_id: str) -> None:
        self.confirmation_id = message_id
        self.awaiting_answer = True

    def confirmation_lost(self, resend_at: float = 0.0) -> None:
        """The answer will not come (UNAVAILABLE, broken stream): send the same id again,
        not before `resend_at`."""
        self.awaiting_answer = False
        self.resend_at = resend_at

    def pickup_confirmed(self) -> None:
        self.picked_up = True
        self.confirmation_id = None
        self.awaiting_answer = False
