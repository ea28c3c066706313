"""Delivery -> lastmile.orders.v1.Delivery: the published form, used by the servicers'
replies and by the delivery.created event alike."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2

from lastmile.orders.v1 import delivery_pb2
from services.contracts import common_v1
from services.orders.domain.delivery import Delivery, DeliveryStatus

STATUS_VALUES: dict[DeliveryStatus, delivery_pb2.DeliveryStatus.ValueType] = {
    DeliveryStatus.PENDING: delivery_pb2.DELIVERY_STATUS_PENDING,
    DeliveryStatus.ASSIGNED: delivery_pb2.DELIVERY_STATUS_ASSIGNED,
    DeliveryStatus.PICKED_UP: delivery_pb2.DELIVERY_STATUS_PICKED_UP,
    DeliveryStatus.DELIVERED: delivery_pb2.DELIVERY_STATUS_DELIVERED,
    DeliveryStatus.CANCELLED: delivery_pb2.DELIVERY_STATUS_CANCELLED,
}
STATUSES_BY_VALUE = {value: status for status, value in STATUS_VALUES.items()}


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    return common_v1.timestamp_message(moment) if moment is not None else None


def delivery_message(delivery: Delivery) -> delivery_pb2.Delivery:
    assignment = delivery.assignment
    return delivery_pb2.Delivery(
        delivery_id=delivery.id,
        customer_id=delivery.customer_id or "",
        merchant_id=delivery.merchant_id or "",
        pickup=common_v1.stop_message(delivery.pickup),
        dropoff=common_v1.stop_message(delivery.dropoff),
        parcel=common_v1.parcel_message(delivery.parcel),
        service_level=common_v1.service_level_value(delivery.service_level),
        quote_id=delivery.quote_id,
        price=common_v1.money_message(delivery.price),
        status=STATUS_VALUES[delivery.status],
        courier_id=assignment.courier_id if assignment else "",
        offer_id=assignment.offer_id if assignment else "",
        create_time=common_v1.timestamp_message(delivery.created_at),
        update_time=common_v1.timestamp_message(delivery.updated_at),
        assign_time=_timestamp(delivery.assigned_at),
        pickup_time=_timestamp(delivery.picked_up_at),
        deliver_time=_timestamp(delivery.delivered_at),
        cancel_time=_timestamp(delivery.cancelled_at),
        cancel_reason=delivery.cancel_reason,
        version=delivery.version,
    )
