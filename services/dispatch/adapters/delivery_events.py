"""orders' delivery events (delivery_events.proto) -> what dispatch acts on."""

from __future__ import annotations

from lastmile.events.v1 import delivery_events_pb2, envelope_pb2
from services.dispatch.adapters.delivery_records import terms_of
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_reports import DeliveryAssignment, DeliveryCancellation

CREATED = "lastmile.delivery.created"
CANCELLED = "lastmile.delivery.cancelled"
ASSIGNED = "lastmile.delivery.assigned"
# The durable consumer's filters: these kinds in every region (subjects are
# `<type>.<region>`); a matcher of one region swaps the `*` for its name.
ALL_REGIONS = "*"
SUBJECTS = tuple(f"{kind}.{ALL_REGIONS}" for kind in (CREATED, CANCELLED, ASSIGNED))

DeliveryEvent = DeliveryTerms | DeliveryCancellation | DeliveryAssignment


class UnreadableEvent(ValueError):
    """The envelope's payload is not the message its type promises."""


def read_delivery_event(envelope: envelope_pb2.EventEnvelope) -> DeliveryEvent | None:
    """The event's meaning for dispatch; None for types dispatch does not consume."""
    if envelope.type == CREATED:
        created = delivery_events_pb2.DeliveryCreated()
        _unpack(envelope, created)
        return terms_of(created.delivery)
    if envelope.type == CANCELLED:
        cancelled = delivery_events_pb2.DeliveryCancelled()
        _unpack(envelope, cancelled)
        return DeliveryCancellation(
            cancelled.delivery_id, cancelled.courier_id, cancelled.offer_id, cancelled.reason
        )
    if envelope.type == ASSIGNED:
        assigned = delivery_events_pb2.DeliveryAssigned()
        _unpack(envelope, assigned)
        return DeliveryAssignment(assigned.delivery_id, assigned.courier_id, assigned.offer_id)
    return None


def _unpack(envelope: envelope_pb2.EventEnvelope, payload: object) -> None:
    if not envelope.payload.Unpack(payload):  # type: ignore[arg-type]
        raise UnreadableEvent(f"{envelope.type} event {envelope.event_id} has another payload")
