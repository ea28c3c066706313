"""Domain events as lastmile.events.v1 envelopes: type (= NATS subject), source, subject,
sequence and payload exactly as delivery_events.proto defines them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from typing import TypeVar

from google.protobuf.message import Message

from lastmile.events.v1 import delivery_events_pb2
from lastmile.orders.v1 import delivery_pb2
from services.orders.adapters.delivery_messages import delivery_message
from services.orders.adapters.event_envelopes import envelope_for, subject_for
from services.orders.domain.delivery import Delivery, Transition
from tests.unit.orders.examples import COURIER, QUOTE, REQUEST, pending
from tests.unit.orders.fakes import NOW

LATER = NOW + timedelta(minutes=3)
PayloadT = TypeVar("PayloadT", bound=Message)


def test_delivery_created_carries_the_whole_delivery_at_sequence_1() -> None:
    delivery, created = Delivery.create(
        "d-1", REQUEST, QUOTE, region="berlin", customer_id="c", merchant_id=None, now=NOW
    )
    envelope = envelope_for(created)
    assert (envelope.type, envelope.source, envelope.subject, envelope.sequence) == (
        "lastmile.delivery.created",
        "orders",
        "d-1",
        1,
    )
    assert envelope.time.ToDatetime().replace(tzinfo=NOW.tzinfo) == NOW
    payload = delivery_events_pb2.DeliveryCreated()
    assert envelope.payload.Unpack(payload)
    assert payload.delivery == delivery_message(delivery)
    assert payload.delivery.status == delivery_pb2.DELIVERY_STATUS_PENDING


def payload_of(transition: Transition, event_type: str, kind: type[PayloadT]) -> PayloadT:
    """The payload of the transition's envelope, after checking its type and sequence."""
    assert transition.event is not None
    envelope = envelope_for(transition.event)
    assert (envelope.type, envelope.sequence) == (event_type, transition.delivery.version)
    payload = kind()
    assert envelope.payload.Unpack(payload)
    return payload


def test_each_transition_has_its_type_sequence_and_payload() -> None:
    assigned = pending().assign(COURIER, LATER)
    picked_up = assigned.delivery.mark_picked_up(COURIER, LATER)
    delivered = picked_up.delivery.mark_delivered(COURIER, LATER)
    by = ("d-1", "courier-1", "offer-1")
    a = payload_of(assigned, "lastmile.delivery.assigned", delivery_events_pb2.DeliveryAssigned)
    assert (a.delivery_id, a.courier_id, a.offer_id) == by
    assert a.assign_time.ToDatetime(tzinfo=UTC) == LATER
    p = payload_of(picked_up, "lastmile.delivery.picked_up", delivery_events_pb2.DeliveryPickedUp)
    assert (p.delivery_id, p.courier_id, p.offer_id) == by
    d = payload_of(delivered, "lastmile.delivery.delivered", delivery_events_pb2.DeliveryDelivered)
    assert (d.delivery_id, d.courier_id, d.offer_id) == by
    c = payload_of(
        assigned.delivery.cancel("no", LATER),
        "lastmile.delivery.cancelled",
        delivery_events_pb2.DeliveryCancelled,
    )
    assert (c.delivery_id, c.courier_id, c.offer_id, c.reason) == (*by, "no")
    assert c.previous_status == delivery_pb2.DELIVERY_STATUS_ASSIGNED


def test_every_event_gets_its_own_id() -> None:
    _, created = Delivery.create(
        "d-1", REQUEST, QUOTE, region="berlin", customer_id="c", merchant_id=None, now=NOW
    )
    assert envelope_for(created).event_id != envelope_for(created).event_id


def test_every_event_is_published_on_its_kind_and_its_region_and_carries_the_region() -> None:
    assigned = pending().assign(COURIER, LATER)
    picked_up = assigned.delivery.mark_picked_up(COURIER, LATER)
    delivered = picked_up.delivery.mark_delivered(COURIER, LATER)
    cancelled = pending().cancel("no", LATER)
    _, created = Delivery.create(
        "d-1", REQUEST, QUOTE, region="paris", customer_id="c", merchant_id=None, now=NOW
    )
    events = [created, assigned.event, picked_up.event, delivered.event, cancelled.event]
    assert [subject_for(e) for e in events if e is not None] == [
        "lastmile.delivery.created.paris",
        "lastmile.delivery.assigned.berlin",
        "lastmile.delivery.picked_up.berlin",
        "lastmile.delivery.delivered.berlin",
        "lastmile.delivery.cancelled.berlin",
    ]
    kinds = (
        delivery_events_pb2.DeliveryCreated,
        delivery_events_pb2.DeliveryAssigned,
        delivery_events_pb2.DeliveryPickedUp,
        delivery_events_pb2.DeliveryDelivered,
        delivery_events_pb2.DeliveryCancelled,
    )
    regions = []
    for event, kind in zip(events, kinds, strict=True):
        assert event is not None
        payload = kind()
        assert envelope_for(event).payload.Unpack(payload)
        regions.append(payload.region)
    assert regions == ["paris", "berlin", "berlin", "berlin", "berlin"]


def test_a_delivery_from_before_regions_is_published_on_the_none_token() -> None:
    legacy = replace(pending(), region="")
    assigned = legacy.assign(COURIER, LATER).event
    assert assigned is not None
    assert subject_for(assigned) == "lastmile.delivery.assigned.none"
