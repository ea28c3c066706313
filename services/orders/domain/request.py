"""A delivery request: what a customer or merchant asks for, before orders prices it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import Parcel, ServiceLevel
from services.shared_kernel.stop import Stop


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    """The client's part of a delivery; the price and everything after are orders' own."""

    pickup: Stop
    dropoff: Stop
    parcel: Parcel
    service_level: ServiceLevel
    quote_id: str | None = None
    # Only merchants name a customer; a customer's own deliveries are theirs by definition.
    customer_id: str | None = None

    def fingerprint(self) -> str:
        """A digest of everything the client asked for; an idempotency key is bound to it.

        Coordinates are rounded to 1e-7 degrees (about 1 cm) so that a JSON round trip of
        the same request never changes the digest.
        """
        canonical = {
            "pickup": _stop(self.pickup),
            "dropoff": _stop(self.dropoff),
            "parcel": [self.parcel.size.value, self.parcel.weight_grams, self.parcel.description],
            "service_level": self.service_level.value,
            "quote_id": self.quote_id or "",
            "customer_id": self.customer_id or "",
        }
        encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()


def _point(point: GeoPoint) -> str:
    return f"{point.latitude:.7f},{point.longitude:.7f}"


def _stop(stop: Stop) -> list[str]:
    contact = stop.contact
    return [
        stop.address,
        _point(stop.point),
        contact.name if contact else "",
        contact.phone if contact else "",
        stop.instructions,
    ]
