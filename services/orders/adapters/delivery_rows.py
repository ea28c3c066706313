"""deliveries table rows <-> Delivery; stops are stored as JSON value objects (orjson: this
runs on every read and write of a delivery)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import orjson

from services.orders.domain.delivery import Assignment, Delivery, DeliveryStatus
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop

COLUMNS = (
    "id, customer_id, merchant_id, pickup, dropoff, parcel_size, parcel_weight_grams,"
    " parcel_description, service_level, quote_id, price_minor, price_currency, status,"
    " courier_id, offer_id, created_at, updated_at, assigned_at, picked_up_at,"
    " delivered_at, cancelled_at, cancel_reason, version, region"
)


def row_values(delivery: Delivery) -> tuple[Any, ...]:
    """The values of COLUMNS, in order."""
    assignment = delivery.assignment
    return (
        uuid.UUID(delivery.id),
        delivery.customer_id,
        delivery.merchant_id,
        _stop_json(delivery.pickup),
        _stop_json(delivery.dropoff),
        delivery.parcel.size.value,
        delivery.parcel.weight_grams,
        delivery.parcel.description,
        delivery.service_level.value,
        delivery.quote_id,
        delivery.price.amount_minor,
        delivery.price.currency,
        delivery.status.value,
        assignment.courier_id if assignment else None,
        assignment.offer_id if assignment else None,
        delivery.created_at,
        delivery.updated_at,
        delivery.assigned_at,
        delivery.picked_up_at,
        delivery.delivered_at,
        delivery.cancelled_at,
        delivery.cancel_reason,
        delivery.version,
        delivery.region,
    )


def delivery_from(row: asyncpg.Record) -> Delivery:
    courier_id, offer_id = row["courier_id"], row["offer_id"]
    return Delivery(
        id=str(row["id"]),
        customer_id=row["customer_id"],
        merchant_id=row["merchant_id"],
        pickup=_stop_from(row["pickup"]),
        dropoff=_stop_from(row["dropoff"]),
        parcel=Parcel(
            ParcelSize(row["parcel_size"]), row["parcel_weight_grams"], row["parcel_description"]
        ),
        service_level=ServiceLevel(row["service_level"]),
        quote_id=row["quote_id"],
        price=Money(row["price_minor"], row["price_currency"]),
        status=DeliveryStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        region=row["region"],
        assignment=Assignment(courier_id, offer_id) if courier_id is not None else None,
        assigned_at=row["assigned_at"],
        picked_up_at=row["picked_up_at"],
        delivered_at=row["delivered_at"],
        cancelled_at=row["cancelled_at"],
        cancel_reason=row["cancel_reason"],
    )


def _stop_json(stop: Stop) -> str:
    contact = stop.contact
    return orjson.dumps(
        {
            "address": stop.address,
            "latitude": stop.point.latitude,
            "longitude": stop.point.longitude,
            "contact": {"name": contact.name, "phone": contact.phone} if contact else None,
            "instructions": stop.instructions,
        }
    ).decode()


def _stop_from(stored: str) -> Stop:
    fields = orjson.loads(stored)
    contact = fields["contact"]
    return Stop(
        address=fields["address"],
        point=GeoPoint(fields["latitude"], fields["longitude"]),
        contact=Contact(contact["name"], contact["phone"]) if contact else None,
        instructions=fields["instructions"],
    )
