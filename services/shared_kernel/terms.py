"""The fingerprint of the delivery terms a quote is bound to: pricing signs it into every
quote it issues, and orders recomputes it from the delivery that presents the quote."""

from __future__ import annotations

import hashlib

from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ServiceLevel


def terms_fingerprint(
    pickup: GeoPoint, dropoff: GeoPoint, parcel: Parcel, service_level: ServiceLevel
) -> str:
    """A stable digest of everything a price depends on.

    Coordinates are rounded to 1e-7 degrees (about 1 cm), below any GPS precision, so that a
    JSON round trip of the same point never changes the fingerprint.
    """
    canonical = "|".join(
        (
            f"{pickup.latitude:.7f},{pickup.longitude:.7f}",
            f"{dropoff.latitude:.7f},{dropoff.longitude:.7f}",
            parcel.size.value,
            str(parcel.weight_grams),
            service_level.value,
        )
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
