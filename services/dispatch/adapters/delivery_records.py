"""lastmile.orders.v1.Delivery <-> the delivery terms dispatch keeps (and persists)."""

from __future__ import annotations

from lastmile.orders.v1 import delivery_pb2
from services.contracts import common_v1
from services.dispatch.domain.deliveries import DeliveryTerms
from services.runtime.errors import Violations


def terms_of(delivery: delivery_pb2.Delivery) -> DeliveryTerms:
    """The terms of a published delivery; INVALID_ARGUMENT naming every bad field."""
    violations = Violations(prefix="delivery.")
    violations.check(bool(delivery.delivery_id), "delivery_id", "is required")
    pickup = common_v1.read_stop(delivery.pickup, delivery.HasField("pickup"), violations, "pickup")
    dropoff = common_v1.read_stop(
        delivery.dropoff, delivery.HasField("dropoff"), violations, "dropoff"
    )
    parcel = common_v1.read_parcel(
        delivery.parcel, delivery.HasField("parcel"), violations, "parcel"
    )
    level = common_v1.read_service_level(delivery.service_level, violations, "service_level")
    violations.raise_if_any()
    if pickup is None or dropoff is None or parcel is None or level is None:
        raise ValueError("a reader returned nothing without recording a violation")
    return DeliveryTerms(
        delivery_id=delivery.delivery_id,
        pickup=pickup,
        dropoff=dropoff,
        parcel=parcel,
        service_level=level,
        price=common_v1.read_money(delivery.price),
        created_at=common_v1.read_timestamp(delivery.create_time),
    )


def delivery_of(terms: DeliveryTerms) -> delivery_pb2.Delivery:
    return delivery_pb2.Delivery(
        delivery_id=terms.delivery_id,
        pickup=common_v1.stop_message(terms.pickup),
        dropoff=common_v1.stop_message(terms.dropoff),
        parcel=common_v1.parcel_message(terms.parcel),
        service_level=common_v1.service_level_value(terms.service_level),
        price=common_v1.money_message(terms.price),
        create_time=common_v1.timestamp_message(terms.created_at),
        status=delivery_pb2.DELIVERY_STATUS_PENDING,
    )
