"""What the board asks its shell to do, as plain values: the board decides, the shell
carries these out in the order given (see service_layer/region_shell.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_messages import AssignmentToCourier, OfferWithdrawal
from services.dispatch.domain.offers import Offer
from services.dispatch.domain.queue_rows import QueueRow
from services.dispatch.domain.statistics import OfferOutcome


@dataclass(frozen=True, slots=True)
class Persist:
    """Write the delivery's latest queue row (None: remove it). A SendOffer or a
    CallAssignCourier after it waits until it has committed."""

    delivery_id: str
    row: QueueRow | None


@dataclass(frozen=True, slots=True)
class SendOffer:
    """Show `offer` to its courier through `offer.fleet_replica_id`, in the delivery's
    trace, unless it ended meanwhile; `first` marks a delivery's first offer (the
    create -> offer latency). If the replica is not reachable, tell the board
    `offer_undelivered`."""

    offer: Offer
    delivery: DeliveryTerms
    first: bool


@dataclass(frozen=True, slots=True)
class Send:
    """Send a withdrawal or an assignment to a fleet replica ("" when none is known:
    the replica's next snapshot puts it right)."""

    fleet_replica_id: str
    message: OfferWithdrawal | AssignmentToCourier


@dataclass(frozen=True, slots=True)
class CallAssignCourier:
    """Run orders.AssignCourier for the accepted `offer` until orders decides, then
    tell the board `assignment_settled`."""

    offer: Offer


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """The offer's backstop: at `at`, tell the board `offer_expired`."""

    offer_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """The offer was answered or ended: its backstop is no longer needed."""

    offer_id: str


@dataclass(frozen=True, slots=True)
class CountOffer:
    """An offer reached `outcome` (the offers metric)."""

    outcome: OfferOutcome


@dataclass(frozen=True, slots=True)
class RecordPositions:
    """Positions were indexed, each this many seconds after its device recorded it."""

    lags_seconds: Sequence[float]


Effect = (
    Persist | SendOffer | Send | CallAssignCourier | ArmTimer | CancelTimer | CountOffer
    | RecordPositions
)  # fmt: skip
