"""What flows on a courier's session, in fleet's terms: the commands the app sends up
and the messages fleet sends down. The servicer translates both from and to protobuf."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from services.fleet.domain.courier import Courier
from services.fleet.domain.offers import DeclineReason, Withdrawal
from services.fleet.domain.values import Fix, HeldDelivery, HeldOffer, VehicleType
from services.runtime.errors import DomainError, InvalidArgument

# --- up: the courier app's commands ---


@dataclass(frozen=True, slots=True)
class GoOnline:
    vehicle: VehicleType
    fix: Fix | None


@dataclass(frozen=True, slots=True)
class GoOffline:
    pass


class ReportLocations(NamedTuple):
    """Only the newest of the batch's fixes matters; `received` is how many arrived. (A
    tuple rather than a dataclass: one is made per ping, and tuples are cheaper.)"""

    newest: Fix
    received: int


@dataclass(frozen=True, slots=True)
class AcceptOffer:
    offer_id: str


@dataclass(frozen=True, slots=True)
class DeclineOffer:
    offer_id: str
    reason: DeclineReason


@dataclass(frozen=True, slots=True)
class ConfirmPickup:
    delivery_id: str


@dataclass(frozen=True, slots=True)
class ConfirmDropoff:
    delivery_id: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class Malformed:
    """An up message that could not be read; answered with its INVALID_ARGUMENT."""

    error: InvalidArgument


Command = (
    GoOnline
    | GoOffline
    | ReportLocations
    | AcceptOffer
    | DeclineOffer
    | ConfirmPickup
    | ConfirmDropoff
    | Heartbeat
    | Malformed
)
# Commands that change state: applied once per client_message_id.
STATEFUL = (GoOnline, GoOffline, AcceptOffer, DeclineOffer, ConfirmPickup, ConfirmDropoff)

# --- down: what fleet tells the courier app ---


class ClosingReason(StrEnum):
    DRAINING = "DRAINING"
    REPLACED = "REPLACED"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"


@dataclass(frozen=True, slots=True)
class SessionStarted:
    session_id: str
    resumed: bool
    courier: Courier
    heartbeat_interval_seconds: float
    heartbeat_timeout_seconds: float


@dataclass(frozen=True, slots=True)
class OfferShown:
    offer: HeldOffer


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    withdrawal: Withdrawal


@dataclass(frozen=True, slots=True)
class AssignmentShown:
    delivery: HeldDelivery


@dataclass(frozen=True, slots=True)
class Acked:
    client_message_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    client_message_id: str
    error: DomainError


@dataclass(frozen=True, slots=True)
class SessionClosing:
    reason: ClosingReason
    reconnect_after_seconds: float | None


Outgoing = (
    SessionStarted
    | OfferShown
    | OfferWithdrawn
    | AssignmentShown
    | Acked
    | Rejected
    | SessionClosing
)
