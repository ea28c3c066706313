"""Geographic points and great-circle distance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.runtime.errors import Violations

EARTH_RADIUS_METERS = 6_371_008.8  # mean radius (IUGG)


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 coordinate with latitude in [-90, 90] and longitude in [-180, 180]."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        violations = Violations()
        self.check(self.latitude, self.longitude, violations)
        violations.raise_if_any()

    @staticmethod
    def check(latitude: float, longitude: float, violations: Violations) -> None:
        """Record a violation per out-of-range (or non-finite) coordinate."""
        violations.check(
            math.isfinite(latitude) and -90 <= latitude <= 90,
            "latitude",
            f"must be between -90 and 90, got {latitude}",
        )
        violations.check(
            math.isfinite(longitude) and -180 <= longitude <= 180,
            "longitude",
            f"must be between -180 and 180, got {longitude}",
        )

    def distance_meters(self, other: GeoPoint) -> float:
        """Great-circle (haversine) distance."""
        lat1, lat2 = math.radians(self.latitude), math.radians(other.latitude)
        d_lat = lat2 - lat1
        d_lon = math.radians(other.longitude - self.longitude)
        a = math.sin(d_lat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(d_lon / 2) ** 2
        return 2 * EARTH_RADIUS_METERS * math.asin(min(1.0, math.sqrt(a)))
