"""The value objects a courier's state is made of: statuses, vehicles, position fixes,
and the offer or delivery a courier holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class Fix:
    """One position fix from a courier's device."""

    latitude: float
    longitude: float
    recorded_at: datetime
    accuracy_meters: float = 0.0
    heading_degrees: float | None = None
    speed_meters_per_second: float | None = None


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
