"""Random delivery requests inside the city, as the REST JSON body of POST /v1/deliveries."""

from __future__ import annotations

import random
from typing import Any

from services.shared_kernel.geo import GeoPoint
from services.simulator.city import BoundingBox, random_dropoff

# Share of each parcel size, and its weight range in grams (orders allows 1 to 30 000).
PARCEL_MIX: dict[str, tuple[float, tuple[int, int]]] = {
    "PARCEL_SIZE_SMALL": (0.50, (100, 2_000)),
    "PARCEL_SIZE_MEDIUM": (0.30, (500, 5_000)),
    "PARCEL_SIZE_LARGE": (0.15, (2_000, 15_000)),
    "PARCEL_SIZE_EXTRA_LARGE": (0.05, (5_000, 30_000)),
}
SERVICE_LEVEL_MIX = {"SERVICE_LEVEL_STANDARD": 0.75, "SERVICE_LEVEL_EXPRESS": 0.25}


def _stop(point: GeoPoint, what: str, contact: str, rng: random.Random) -> dict[str, Any]:
    return {
        "address": f"Simulated {what} at {point.latitude:.5f}, {point.longitude:.5f}",
        "point": {"latitude": point.latitude, "longitude": point.longitude},
        "contact": {"name": contact, "phone": f"+4930{rng.randrange(10**6, 10**7)}"},
    }


def random_delivery(box: BoundingBox, customer: str, rng: random.Random) -> dict[str, Any]:
    """A pickup anywhere in the box, a dropoff 0.5-6 km away, a random parcel and level."""
    pickup = box.random_point(rng)
    dropoff = random_dropoff(box, pickup, rng)
    sizes = list(PARCEL_MIX)
    size = rng.choices(sizes, weights=[PARCEL_MIX[s][0] for s in sizes])[0]
    levels = list(SERVICE_LEVEL_MIX)
    return {
        "pickup": _stop(pickup, "pickup", "Simulated shop", rng),
        "dropoff": _stop(dropoff, "dropoff", customer, rng),
        "parcel": {"size": size, "weightGrams": rng.randint(*PARCEL_MIX[size][1])},
        "serviceLevel": rng.choices(levels, weights=list(SERVICE_LEVEL_MIX.values()))[0],
    }
