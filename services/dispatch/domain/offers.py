"""Offers: one delivery proposed to one courier, and the terms they are made on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.deliveries import DeliveryTerms
from services.shared_kernel.money import Money

# Road distance is estimated from the great-circle distance: city streets run about 30%
# longer than the straight line (the usual circuity factor for European cities).
DEFAULT_ROAD_FACTOR = 1.3
# The courier's share of the delivery price, in percent; the rest is the platform's.
DEFAULT_PAYOUT_PERCENT = 80


@dataclass(frozen=True, slots=True)
class Offer:
    """A delivery offered to a courier, routed through the fleet replica holding them."""

    offer_id: str
    delivery_id: str
    courier_id: str
    fleet_replica_id: str
    payout: Money
    pickup_distance_meters: int
    delivery_distance_meters: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """How offers are made: how long couriers have to answer, what they earn, how long
    dispatch waits beyond the deadline for an answer lost on the way."""

    ttl: timedelta = timedelta(seconds=20)
    grace: timedelta = timedelta(seconds=2)
    payout_percent: int = DEFAULT_PAYOUT_PERCENT
    road_factor: float = DEFAULT_ROAD_FACTOR

    def payout(self, price: Money) -> Money:
        """The courier's share, rounded down to a whole minor unit."""
        return Money(price.amount_minor * self.payout_percent // 100, price.currency)

    def make(
        self,
        delivery: DeliveryTerms,
        *,
        offer_id: str,
        courier_id: str,
        fleet_replica_id: str,
        pickup_distance_meters: float,
        now: datetime,
    ) -> Offer:
        straight = delivery.pickup.point.distance_meters(delivery.dropoff.point)
        return Offer(
            offer_id=offer_id,
            delivery_id=delivery.delivery_id,
            courier_id=courier_id,
            fleet_replica_id=fleet_replica_id,
            payout=self.payout(delivery.price),
            pickup_distance_meters=round(pickup_distance_meters),
            delivery_distance_meters=round(straight * self.road_factor),
            created_at=now,
            expires_at=now + self.ttl,
        )

    def backstop(self, offer: Offer) -> datetime:
        """When dispatch gives up waiting for an answer to `offer`."""
        return offer.expires_at + self.grace
