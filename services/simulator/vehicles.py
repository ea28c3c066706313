"""What simulated couriers ride: city speeds, the parcel sizes each vehicle carries, and
the mix of vehicles in a fleet."""

from __future__ import annotations

import random
from collections.abc import Mapping
from enum import StrEnum


class Vehicle(StrEnum):
    """A courier's vehicle for a shift, named as on the command line."""

    BICYCLE = "bicycle"
    CARGO_BIKE = "cargo_bike"
    MOTORBIKE = "motorbike"
    CAR = "car"
    VAN = "van"

    @property
    def city_speed_mps(self) -> float:
        """Average door-to-door speed in city traffic, stops included."""
        return _CITY_SPEED_MPS[self]

    def carries(self, parcel_size: str) -> bool:
        """Whether a parcel of this size class ("small" ... "extra_large") fits."""
        return parcel_size in _CARRIES[self]


_CITY_SPEED_MPS = {
    Vehicle.BICYCLE: 4.5,
    Vehicle.CARGO_BIKE: 4.0,
    Vehicle.MOTORBIKE: 8.0,
    Vehicle.CAR: 7.0,
    Vehicle.VAN: 6.0,
}
_EVERY_SIZE = frozenset({"small", "medium", "large", "extra_large"})
# As in lastmile.fleet.v1.VehicleType: dispatch offers only what the vehicle carries.
_CARRIES = {
    Vehicle.BICYCLE: frozenset({"small", "medium"}),
    Vehicle.CARGO_BIKE: _EVERY_SIZE,
    Vehicle.MOTORBIKE: frozenset({"small", "medium", "large"}),
    Vehicle.CAR: _EVERY_SIZE,
    Vehicle.VAN: _EVERY_SIZE,
}


class VehicleMix:
    """Relative weights of vehicles in the simulated fleet, e.g. bicycle=0.6,motorbike=0.4."""

    def __init__(self, weights: Mapping[Vehicle, float]) -> None:
        if not weights or any(weight < 0 for weight in weights.values()):
            raise ValueError("a vehicle mix needs at least one vehicle and no negative weight")
        if sum(weights.values()) <= 0:
            raise ValueError("a vehicle mix needs a positive total weight")
        self.weights = dict(weights)

    @classmethod
    def parse(cls, text: str) -> VehicleMix:
        weights: dict[Vehicle, float] = {}
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            name, _, weight = part.partition("=")
            try:
                weights[Vehicle(name.strip().replace("-", "_"))] = float(weight)
            except ValueError:
                known = ", ".join(vehicle.value for vehicle in Vehicle)
                raise ValueError(
                    f"bad vehicle weight {part!r}; use name=weight with {known}"
                ) from None
        return cls(weights)

    def draw(self, rng: random.Random) -> Vehicle:
        vehicles = list(self.weights)
        return rng.choices(vehicles, weights=[self.weights[v] for v in vehicles])[0]
