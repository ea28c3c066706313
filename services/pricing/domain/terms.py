"""Delivery terms: everything a price depends on."""

from __future__ import annotations

from dataclasses import dataclass

from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ServiceLevel
from services.shared_kernel.terms import terms_fingerprint


@dataclass(frozen=True, slots=True)
class DeliveryTerms:
    """Pickup and dropoff points, the parcel and the service level."""

    pickup: GeoPoint
    dropoff: GeoPoint
    parcel: Parcel
    service_level: ServiceLevel

    def fingerprint(self) -> str:
        """The digest a quote is bound to; orders computes the same from a delivery."""
        return terms_fingerprint(self.pickup, self.dropoff, self.parcel, self.service_level)
