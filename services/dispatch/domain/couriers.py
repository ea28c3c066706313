"""Couriers as dispatch sees them: what they ride, what they are doing, where they are."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.shared_kernel.parcel import ParcelSize


class CourierStatus(StrEnum):
    """What a courier is doing, as the fleet replica holding them reports it."""

    OFFLINE = "offline"
    IDLE = "idle"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    DELIVERING = "delivering"


class VehicleType(StrEnum):
    """What a courier rides for a shift; it limits the parcel sizes they are offered."""

    BICYCLE = "bicycle"
    CARGO_BIKE = "cargo_bike"
    MOTORBIKE = "motorbike"
    CAR = "car"
    VAN = "van"


_SIZES = (ParcelSize.SMALL, ParcelSize.MEDIUM, ParcelSize.LARGE, ParcelSize.EXTRA_LARGE)
# The largest size each vehicle carries (fleet.v1.VehicleType's comments).
_LARGEST: dict[VehicleType, ParcelSize] = {
    VehicleType.BICYCLE: ParcelSize.MEDIUM,
    VehicleType.CARGO_BIKE: ParcelSize.EXTRA_LARGE,
    VehicleType.MOTORBIKE: ParcelSize.LARGE,
    VehicleType.CAR: ParcelSize.EXTRA_LARGE,
    VehicleType.VAN: ParcelSize.EXTRA_LARGE,
}


def carries(vehicle: VehicleType | None, size: ParcelSize) -> bool:
    """Whether `vehicle` carries a parcel of `size`; an unknown vehicle carries nothing."""
    if vehicle is None:
        return False
    return _SIZES.index(size) <= _SIZES.index(_LARGEST[vehicle])


@dataclass(slots=True)
class Courier:
    """One courier's live state, as reported by the fleet replica that holds them.

    Mutable on purpose: positions arrive thousands of times a second and are applied
    in place. `located_at` is the device time of the last fix, in epoch seconds."""

    courier_id: str
    fleet_replica_id: str
    vehicle: VehicleType | None
    status: CourierStatus
    connected: bool
    version: int
    offer_id: str = ""
    delivery_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    located_at: float = 0.0

    def holds_offer(self, offer_id: str) -> bool:
        return self.status is CourierStatus.OFFERED and self.offer_id == offer_id

    def carries_delivery(self, delivery_id: str) -> bool:
        return (
            self.status in (CourierStatus.ASSIGNED, CourierStatus.DELIVERING)
            and self.delivery_id == delivery_id
        )
