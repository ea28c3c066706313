"""Where the simulation happens: named city bounding boxes and random points inside them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from services.shared_kernel.geo import EARTH_RADIUS_METERS, GeoPoint

# Deliveries go across a neighbourhood or two, never across the whole city.
MIN_DROPOFF_METERS = 500.0
MAX_DROPOFF_METERS = 6_000.0


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A latitude/longitude rectangle that every simulated point stays inside."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south < self.north <= 90 and -180 <= self.west < self.east <= 180):
            raise ValueError(
                f"{self} is not a box: -90 <= south < north <= 90 and"
                " -180 <= west < east <= 180 are needed"
            )

    @classmethod
    def parse(cls, text: str) -> BoundingBox:
        """Two opposite corners as `lat1,lng1,lat2,lng2`, in any order."""
        try:
            lat1, lng1, lat2, lng2 = (float(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"expected lat1,lng1,lat2,lng2, got {text!r}") from None
        return cls(min(lat1, lat2), min(lng1, lng2), max(lat1, lat2), max(lng1, lng2))

    def contains(self, point: GeoPoint) -> bool:
        return (
            self.south <= point.latitude <= self.north and self.west <= point.longitude <= self.east
        )

    def random_point(self, rng: random.Random) -> GeoPoint:
        """A point drawn uniformly in latitude and longitude (close enough to uniform in
        area for a city-sized box)."""
        return GeoPoint(rng.uniform(self.south, self.north), rng.uniform(self.west, self.east))


CITIES: dict[str, BoundingBox] = {
    "berlin": BoundingBox(52.4700, 13.3000, 52.5600, 13.4900),
    "hamburg": BoundingBox(53.5200, 9.9200, 53.6000, 10.0800),
    "paris": BoundingBox(48.8200, 2.2700, 48.9000, 2.4100),
    "london": BoundingBox(51.4700, -0.2000, 51.5500, 0.0000),
    "new-york": BoundingBox(40.7000, -74.0200, 40.8000, -73.9300),
}


def offset(origin: GeoPoint, bearing_degrees: float, meters: float) -> GeoPoint:
    """The point `meters` away from `origin` in the given direction (flat-earth
    approximation, accurate to well under a metre over a few kilometres)."""
    bearing = math.radians(bearing_degrees)
    d_lat = meters * math.cos(bearing) / EARTH_RADIUS_METERS
    d_lng = (
        meters * math.sin(bearing) / (EARTH_RADIUS_METERS * math.cos(math.radians(origin.latitude)))
    )
    return GeoPoint(origin.latitude + math.degrees(d_lat), origin.longitude + math.degrees(d_lng))


def random_dropoff(
    box: BoundingBox,
    pickup: GeoPoint,
    rng: random.Random,
    min_meters: float = MIN_DROPOFF_METERS,
    max_meters: float = MAX_DROPOFF_METERS,
) -> GeoPoint:
    """A point inside `box` whose great-circle distance from `pickup` is within the bounds."""
    for _ in range(200):
        candidate = offset(pickup, rng.uniform(0, 360), rng.uniform(min_meters, max_meters))
        if (
            box.contains(candidate)
            and min_meters <= pickup.distance_meters(candidate) <= max_meters
        ):
            return candidate
    raise ValueError(f"{box} has no room for a dropoff {min_meters}-{max_meters} m from {pickup}")
