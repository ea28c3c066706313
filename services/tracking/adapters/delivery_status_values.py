"""orders' DeliveryStatus enum values and tracking's DeliveryStatus, both ways."""

from __future__ import annotations

from lastmile.orders.v1 import delivery_pb2
from services.tracking.domain.progress import DeliveryStatus

STATUS_VALUES: dict[DeliveryStatus, delivery_pb2.DeliveryStatus.ValueType] = {
    DeliveryStatus.PENDING: delivery_pb2.DELIVERY_STATUS_PENDING,
    DeliveryStatus.ASSIGNED: delivery_pb2.DELIVERY_STATUS_ASSIGNED,
    DeliveryStatus.PICKED_UP: delivery_pb2.DELIVERY_STATUS_PICKED_UP,
    DeliveryStatus.DELIVERED: delivery_pb2.DELIVERY_STATUS_DELIVERED,
    DeliveryStatus.CANCELLED: delivery_pb2.DELIVERY_STATUS_CANCELLED,
}
STATUSES_BY_VALUE = {value: status for status, value in STATUS_VALUES.items()}
