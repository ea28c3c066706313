"""Pure kinematics of a simulated courier: straight-line steps towards a target at a
bounded speed, never leaving the city."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.shared_kernel.geo import GeoPoint


@dataclass(frozen=True, slots=True)
class Step:
    """Where one step ended, the direction it went (None when standing still), and
    whether it reached the target."""

    position: GeoPoint
    heading_degrees: float | None
    arrived: bool


def bearing_degrees(origin: GeoPoint, target: GeoPoint) -> float:
    """The initial great-circle bearing from origin to target, in [0, 360)."""
    lat1, lat2 = math.radians(origin.latitude), math.radians(target.latitude)
    d_lng = math.radians(target.longitude - origin.longitude)
    x = math.sin(d_lng) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(d_lng)
    return math.degrees(math.atan2(x, y)) % 360.0


def step_towards(position: GeoPoint, target: GeoPoint, max_meters: float) -> Step:
    """Move at most `max_meters` along the straight line to `target`.

    The point is interpolated in latitude/longitude, which over a city's distances stays
    within a fraction of a percent of the great-circle path and costs no trigonometry
    beyond one distance: cheap enough for thousands of couriers a second.
    """
    remaining = position.distance_meters(target)
    if remaining <= max_meters:
        heading = bearing_degrees(position, target) if remaining > 0 else None
        return Step(target, heading, arrived=True)
    fraction = max_meters / remaining
    moved = GeoPoint(
        position.latitude + (target.latitude - position.latitude) * fraction,
        position.longitude + (target.longitude - position.longitude) * fraction,
    )
    return Step(moved, bearing_degrees(position, target), arrived=False)


class Traveller:
    """A courier's position and the target it is heading for, advanced in time steps at
    a fixed speed (metres per simulated-and-sped-up second)."""

    def __init__(self, position: GeoPoint, speed_mps: float) -> None:
        if speed_mps <= 0:
            raise ValueError(f"speed must be positive, got {speed_mps}")
        self.position = position
        self.speed_mps = speed_mps
        self.target: GeoPoint | None = None

    def head_for(self, target: GeoPoint) -> None:
        self.target = target

    @property
    def arrived(self) -> bool:
        return self.target is None or self.position == self.target

    def advance(self, seconds: float) -> Step:
        """Move for `seconds`; a traveller without a target stands still."""
        if self.target is None:
            return Step(self.position, None, arrived=True)
        step = step_towards(self.position, self.target, self.speed_mps * seconds)
        self.position = step.position
        return step


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report: where, which way, how fast (None when standing still), and
    when, in seconds since the epoch."""

    position: GeoPoint
    heading_degrees: float | None
    speed_mps: float | None
    recorded_at: float
