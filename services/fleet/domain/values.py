"""The value objects a courier's state is made of: statuses, vehicles, position fixes,
and the offer or delivery a courier holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CourierStatus(StrEnum):
    """What a courier is doing; only IDLE couriers receive offers."""

    OFFLINE = "OFFLINE"
    IDLE = "IDLE"
    OFFERED = "OFFERED"
    ASSIGNED = "ASSIGNED"
    DELIVERING = "DELIVERING"

    @property
    def contract_name(self) -> str:
        # Clients know statuses by the contract's enum names, so errors quote those.
        return f"COURIER_STATUS_{self.value}"


class VehicleType(StrEnum):
    """What a courier rides for a shift."""

    BICYCLE = "BICYCLE"
    CARGO_BIKE = "CARGO_BIKE"
    MOTORBIKE = "MOTORBIKE"
    CAR = "CAR"
    VAN = "VAN"


class ShiftEnd(StrEnum):
    """Why a shift (a stretch of being online on one vehicle) ended."""

    WENT_OFFLINE = "WENT_OFFLINE"
    HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"
    DISCONNECTED = "DISCONNECTED"
    VEHICLE_CHANGED = "VEHICLE_CHANGED"


class Fix(NamedTuple):
    """One position fix from a courier's device.

    `recorded_ns` is when the device took it, in nanoseconds since the Unix epoch: what a
    protobuf Timestamp carries (seconds and nanos), exactly, and cheap to compare and to
    encode again. Fixes are the hot path (one per courier per second), so this is a plain
    immutable tuple, and a datetime (`recorded_at`) is made only where a person or the
    database needs one.
    """

    latitude: float
    longitude: float
    recorded_ns: int
    accuracy_meters: float = 0.0
    heading_degrees: float | None = None
    speed_meters_per_second: float | None = None

    @property
    def recorded_at(self) -> datetime:
        """`recorded_ns` as an aware UTC datetime (to the microsecond)."""
        return datetime_of_ns(self.recorded_ns)


def ns_of_datetime(moment: datetime) -> int:
    """An aware datetime in nanoseconds since the Unix epoch, exactly."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def datetime_of_ns(nanoseconds: int) -> datetime:
    """Nanoseconds since the Unix epoch as an aware UTC datetime (truncated to the
    microsecond, as datetime and PostgreSQL keep it)."""
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


@dataclass(frozen=True, slots=True)
class HeldOffer:
    """The offer a courier holds. `details` is the offer as dispatch sent it, opaque
    here, so that it reaches the courier unchanged."""

    offer_id: str
    delivery_id: str
    expires_at: datetime
    details: bytes
    accepted: bool = False

    def expired(self, now: datetime) -> bool:
        """An accepted offer waits for its outcome whatever the deadline."""
        return not self.accepted and now >= self.expires_at


@dataclass(frozen=True, slots=True)
class HeldDelivery:
    """The delivery a courier carries, from the offer it accepted. `details` is the
    assignment as dispatch sent it (with the contacts), opaque here."""

    offer_id: str
    delivery_id: str
    assigned_at: datetime
    details: bytes
    picked_up: bool = False
