"""Event envelopes (delivery_events.proto, courier_events.proto) -> tracking's domain."""

from __future__ import annotations

from lastmile.events.v1 import courier_events_pb2, delivery_events_pb2, envelope_pb2
from services.contracts import common_v1
from services.tracking.domain.progress import CourierFix, DeliveryStatus, StatusChange

_STATUS_BY_TYPE = {
    "lastmile.delivery.created": DeliveryStatus.PENDING,
    "lastmile.delivery.assigned": DeliveryStatus.ASSIGNED,
    "lastmile.delivery.picked_up": DeliveryStatus.PICKED_UP,
    "lastmile.delivery.delivered": DeliveryStatus.DELIVERED,
    "lastmile.delivery.cancelled": DeliveryStatus.CANCELLED,
}
_COURIER_CARRYING = (
    delivery_events_pb2.DeliveryAssigned,
    delivery_events_pb2.DeliveryPickedUp,
    delivery_events_pb2.DeliveryDelivered,
)


def read_status_change(envelope: envelope_pb2.EventEnvelope) -> StatusChange | None:
    """The change a delivery event records; None for types tracking does not know."""
    status = _STATUS_BY_TYPE.get(envelope.type)
    if status is None:
        return None
    courier_id = cancel_reason = ""
    for payload_type in _COURIER_CARRYING:
        payload = payload_type()
        if envelope.payload.Unpack(payload):
            courier_id = payload.courier_id
    cancelled = delivery_events_pb2.DeliveryCancelled()
    if envelope.payload.Unpack(cancelled):
        courier_id, cancel_reason = cancelled.courier_id, cancelled.reason
    return StatusChange(
        delivery_id=envelope.subject,
        status=status,
        version=envelope.sequence,
        changed_at=common_v1.read_timestamp(envelope.time),
        courier_id=courier_id,
        cancel_reason=cancel_reason,
    )


def read_fix(event: courier_events_pb2.CourierPositionChanged) -> CourierFix:
    location = event.position.location
    return CourierFix(
        courier_id=event.position.courier_id,
        delivery_id=event.delivery_id,
        latitude=location.point.latitude,
        longitude=location.point.longitude,
        recorded_at=common_v1.read_timestamp(location.recorded_time),
        accuracy_meters=location.accuracy_meters,
        heading_degrees=(
            location.heading_degrees if location.HasField("heading_degrees") else None
        ),
        speed_meters_per_second=(
            location.speed_meters_per_second
            if location.HasField("speed_meters_per_second")
            else None
        ),
    )
