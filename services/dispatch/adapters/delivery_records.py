"""lastmile.orders.v1.Delivery <-> the delivery terms dispatch keeps (and persists)."""

from __future__ import annotations

from lastmile.orders.v1 import delivery_pb2
from services.contracts import common_v1
from services.dispatch.domain.deliveries import DeliveryTerms
from services.runtime import validation
from services.runtime.errors import FieldViolation, InvalidArgument


def terms_of(delivery: delivery_pb2.Delivery) -> DeliveryTerms:
    """The terms of a published delivery; INVALID_ARGUMENT naming every bad field.

    orders published it from a request that met the contract's rules; they are checked
    again here, with the same rules, so that a malformed event never reaches matching.
    """
    found: list[FieldViolation] = []
    if not delivery.delivery_id:  # output-only in the contract, so no rule covers it
        found.append(FieldViolation("delivery_id", "is required"))
    invalid = validation.REQUESTS.error(delivery)
    if invalid is not None:
        found.extend(invalid.violations)
    if found:
        raise InvalidArgument([FieldViolation(f"delivery.{v.field}", v.description) for v in found])
    return DeliveryTerms(
        delivery_id=delivery.delivery_id,
        pickup=common_v1.read_stop(delivery.pickup),
        dropoff=common_v1.read_stop(delivery.dropoff),
        parcel=common_v1.read_parcel(delivery.parcel),
        service_level=common_v1.read_service_level(delivery.service_level),
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
