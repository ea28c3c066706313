"""Domain objects that orders' unit tests build on."""

from __future__ import annotations

from dataclasses import replace

from services.orders.domain.delivery import Assignment, Delivery
from services.orders.domain.quote import Quote
from services.orders.domain.request import DeliveryRequest
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop
from tests.unit.orders.fakes import NOW

PICKUP = Stop(
    "Torstraße 1, 10119 Berlin", GeoPoint(52.5219, 13.4132), Contact("Ada", "+4915112345678")
)
DROPOFF = Stop(
    "Invalidenstraße 50, Berlin", GeoPoint(52.5319, 13.4132), Contact("Bo", "+4930123456")
)
REQUEST = DeliveryRequest(PICKUP, DROPOFF, Parcel(ParcelSize.SMALL, 1000), ServiceLevel.STANDARD)
QUOTE = Quote("quote-0", Money(500, "EUR"), NOW)
COURIER = Assignment("courier-1", "offer-1")
OTHER_COURIER = Assignment("courier-2", "offer-2")


def pending(delivery_id: str = "d-1") -> Delivery:
    delivery, _ = Delivery.create(
        delivery_id,
        REQUEST,
        QUOTE,
        region="berlin",
        customer_id="customer-1",
        merchant_id=None,
        now=NOW,
    )
    return delivery


def request_with(**changes: object) -> DeliveryRequest:
    return replace(REQUEST, **changes)  # type: ignore[arg-type]
