"""Domain events -> lastmile.events.v1 envelopes, with the subjects and payloads the
contract names (delivery_events.proto): each is published on `<type>.<region>`."""

from __future__ import annotations

from google.protobuf.message import Message

from lastmile.events.v1 import delivery_events_pb2, envelope_pb2
from services.contracts import common_v1
from services.orders.adapters.delivery_messages import STATUS_VALUES, delivery_message
from services.orders.domain.events import (
    DeliveryAssigned,
    DeliveryCancelled,
    DeliveryCreated,
    DeliveryDelivered,
    DeliveryEvent,
    DeliveryPickedUp,
)
from services.runtime.events.envelope import new_envelope

SOURCE = "orders"


# Rows from before regions may have none (migration 0002); a subject token cannot be empty.
NO_REGION = "none"


def event_type(event: DeliveryEvent) -> str:
    """The envelope type: the kind of event, the same in every region."""
    return _TYPES[type(event)]


def subject_for(event: DeliveryEvent) -> str:
    """The NATS subject, `lastmile.delivery.<kind>.<region>`, so that a consumer can take
    one kind in every region (`lastmile.delivery.created.*`) or one region's events."""
    return f"{event_type(event)}.{event.region or NO_REGION}"


def envelope_for(event: DeliveryEvent) -> envelope_pb2.EventEnvelope:
    return new_envelope(
        event_type=event_type(event),
        source=SOURCE,
        subject=event.delivery_id,
        payload=_payload(event),
        sequence=event.version,
        time=event.occurred_at,
    )


def _payload(event: DeliveryEvent) -> Message:
    at = common_v1.timestamp_message(event.occurred_at)
    match event:
        case DeliveryCreated(delivery=delivery):
            return delivery_events_pb2.DeliveryCreated(
                delivery=delivery_message(delivery), region=event.region
            )
        case DeliveryAssigned(assignment=assignment):
            return delivery_events_pb2.DeliveryAssigned(
                delivery_id=event.delivery_id,
                courier_id=assignment.courier_id,
                offer_id=assignment.offer_id,
                assign_time=at,
                region=event.region,
            )
        case DeliveryPickedUp(assignment=assignment):
            return delivery_events_pb2.DeliveryPickedUp(
                delivery_id=event.delivery_id,
                courier_id=assignment.courier_id,
                offer_id=assignment.offer_id,
                pickup_time=at,
                region=event.region,
            )
        case DeliveryDelivered(assignment=assignment):
            return delivery_events_pb2.DeliveryDelivered(
                delivery_id=event.delivery_id,
                courier_id=assignment.courier_id,
                offer_id=assignment.offer_id,
                deliver_time=at,
                region=event.region,
            )
        case DeliveryCancelled(previous_status=previous, assignment=assignment, reason=reason):
            return delivery_events_pb2.DeliveryCancelled(
                delivery_id=event.delivery_id,
                previous_status=STATUS_VALUES[previous],
                courier_id=assignment.courier_id if assignment else "",
                offer_id=assignment.offer_id if assignment else "",
                reason=reason,
                cancel_time=at,
                region=event.region,
            )
    raise TypeError(f"no envelope for {type(event).__name__}")


_TYPES: dict[type[DeliveryEvent], str] = {
    DeliveryCreated: "lastmile.delivery.created",
    DeliveryAssigned: "lastmile.delivery.assigned",
    DeliveryPickedUp: "lastmile.delivery.picked_up",
    DeliveryDelivered: "lastmile.delivery.delivered",
    DeliveryCancelled: "lastmile.delivery.cancelled",
}
