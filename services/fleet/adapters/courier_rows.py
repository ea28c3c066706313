"""Rows of the couriers table <-> fleet's domain."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.fleet.domain.courier import Courier
from services.fleet.domain.values import (
    CourierStatus,
    Fix,
    HeldDelivery,
    HeldOffer,
    VehicleType,
    ns_of_datetime,
)
from services.fleet.service_layer.ports import CourierView

COLUMNS = (
    "id",
    "vehicle_type",
    "status",
    "connected",
    "session_id",
    "offer_id",
    "offer_delivery_id",
    "offer_expire_at",
    "offer_accepted",
    "offer_details",
    "delivery_id",
    "delivery_offer_id",
    "delivery_assigned_at",
    "delivery_picked_up",
    "delivery_details",
    "last_latitude",
    "last_longitude",
    "last_recorded_at",
    "last_accuracy_meters",
    "last_heading_degrees",
    "last_speed_mps",
    "last_seen_at",
    "version",
    "created_at",
    "updated_at",
)


def row_values(view: CourierView) -> tuple[Any, ...]:
    """The values of COLUMNS, in order."""
    courier, offer, delivery, fix = (
        view.courier,
        view.courier.offer,
        view.courier.delivery,
        view.last_fix,
    )
    return (
        courier.courier_id,
        courier.vehicle.value if courier.vehicle is not None else None,
        courier.status.value,
        courier.connected,
        courier.session_id,
        *(
            (offer.offer_id, offer.delivery_id, offer.expires_at, offer.accepted, offer.details)
            if offer is not None
            else (None, None, None, False, None)
        ),
        *(
            (
                delivery.delivery_id,
                delivery.offer_id,
                delivery.assigned_at,
                delivery.picked_up,
                delivery.details,
            )
            if delivery is not None
            else (None, None, None, False, None)
        ),
        *(
            (
                fix.latitude,
                fix.longitude,
                fix.recorded_at,
                fix.accuracy_meters,
                fix.heading_degrees,
                fix.speed_meters_per_second,
            )
            if fix is not None
            else (None,) * 6
        ),
        view.last_seen,
        courier.version,
        courier.created_at,
        courier.updated_at,
    )


def view_from(row: asyncpg.Record) -> CourierView:
    offer = delivery = fix = None
    if row["offer_id"] is not None:
        offer = HeldOffer(
            row["offer_id"],
            row["offer_delivery_id"],
            row["offer_expire_at"],
            bytes(row["offer_details"]),
            row["offer_accepted"],
        )
    if row["delivery_id"] is not None:
        delivery = HeldDelivery(
            row["delivery_offer_id"],
            row["delivery_id"],
            row["delivery_assigned_at"],
            bytes(row["delivery_details"]),
            row["delivery_picked_up"],
        )
    if row["last_recorded_at"] is not None:
        fix = Fix(
            row["last_latitude"],
            row["last_longitude"],
            ns_of_datetime(row["last_recorded_at"]),
            row["last_accuracy_meters"],
            row["last_heading_degrees"],
            row["last_speed_mps"],
        )
    courier = Courier(
        courier_id=row["id"],
        status=CourierStatus(row["status"]),
        vehicle=VehicleType(row["vehicle_type"]) if row["vehicle_type"] else None,
        session_id=row["session_id"],
        connected=row["connected"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        offer=offer,
        delivery=delivery,
    )
    return CourierView(courier, fix, row["last_seen_at"])
