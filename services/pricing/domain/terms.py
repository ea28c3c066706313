"""Delivery terms: everything a price depends on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ServiceLevel


@dataclass(frozen=True, slots=True)
class DeliveryTerms:
    """Pickup and dropoff points, the parcel and the service level."""

    pickup: GeoPoint
    dropoff: GeoPoint
    parcel: Parcel
    service_level: ServiceLevel

    def fingerprint(self) -> str:
        """A stable digest of the priced terms; a quote is bound to it.

        Coordinates are rounded to 1e-7 degrees (about 1 cm), below any GPS precision, so
        that a JSON round trip of the same point never changes the fingerprint.
        """
        canonical = "|".join(
            (
                f"{self.pickup.latitude:.7f},{self.pickup.longitude:.7f}",
                f"{self.dropoff.latitude:.7f},{self.dropoff.longitude:.7f}",
                self.parcel.size.value,
                str(self.parcel.weight_grams),
                self.service_level.value,
            )
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]
