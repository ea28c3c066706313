"""Offers from the fake dispatch to couriers, and back: accept (then assignment, pickup
and drop-off recorded by the real orders), decline, expiry, late and wrong answers,
reconnects in the middle, cancellation, and undeliverable offers."""

from __future__ import annotations

import uuid

import grpc
import pytest

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link_pb2
from lastmile.fleet.v1 import courier_pb2, fleet_internal_pb2, offer_pb2
from lastmile.fleet.v1 import courier_session_pb2 as session_pb2
from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_pb2
from tests.integration.fleet import dispatch_messages
from tests.integration.fleet.conftest import FleetStack, wait_until
from tests.integration.fleet.courier_app import CourierApp
from tests.orders_examples import account, create_request

pytestmark = pytest.mark.slow


async def online_courier(fleet: FleetStack) -> CourierApp:
    app = fleet.courier()
    await app.next("session_started")
    await app.go_online()
    return app


async def response_to(fleet: FleetStack, sent: link_pb2.LinkResponse) -> link_pb2.OfferResponse:
    offer_id = sent.offer.offer.offer_id
    responses = await wait_until(
        lambda: [
            r.offer_response
            for r in fleet.dispatch.of_kind("offer_response")
            if r.offer_response.offer_id == offer_id
        ]
    )
    assert len(responses) == 1, responses
    response: link_pb2.OfferResponse = responses[0]
    return response


async def status_of(fleet: FleetStack, app: CourierApp) -> courier_pb2.Courier:
    request = fleet_internal_pb2.GetCourierRequest(courier_id=app.courier_id)
    return (await fleet.internal.GetCourier(request)).courier


async def test_an_accepted_offer_is_assigned_picked_up_and_delivered_with_orders(
    fleet: FleetStack,
) -> None:
    customer, ops = account("customer"), account("ops")
    created = await fleet.orders.CreateDelivery(create_request(), metadata=customer.metadata)
    delivery_id = created.delivery.delivery_id
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, delivery_id)
    offer_id = sent.offer.offer.offer_id
    fleet.dispatch.push(sent)
    shown = (await app.next("offer")).offer
    assert (shown.offer_id, shown.delivery_id) == (offer_id, delivery_id)
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_OFFERED
    assert (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).HasField("ack")
    assert (await response_to(fleet, sent)).outcome == link_pb2.OFFER_OUTCOME_ACCEPTED
    # As dispatch does: assign in orders, then tell fleet.
    await fleet.orders_internal.AssignCourier(
        orders_internal_pb2.AssignCourierRequest(
            delivery_id=delivery_id, courier_id=app.courier_id, offer_id=offer_id
        )
    )
    fleet.dispatch.push(dispatch_messages.assignment(sent))
    assert (await app.next("assignment")).assignment.offer_id == offer_id
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_ASSIGNED
    pickup = session_pb2.ConfirmPickup(delivery_id=delivery_id)
    assert (await app.ask(confirm_pickup=pickup)).HasField("ack")
    get = orders_pb2.GetDeliveryRequest(delivery_id=delivery_id)
    recorded = (await fleet.orders.GetDelivery(get, metadata=ops.metadata)).delivery
    assert recorded.status == delivery_pb2.DELIVERY_STATUS_PICKED_UP
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_DELIVERING
    dropoff = session_pb2.ConfirmDropoff(delivery_id=delivery_id)
    assert (await app.ask(confirm_dropoff=dropoff)).HasField("ack")
    recorded = (await fleet.orders.GetDelivery(get, metadata=ops.metadata)).delivery
    assert recorded.status == delivery_pb2.DELIVERY_STATUS_DELIVERED
    courier = await status_of(fleet, app)
    assert (courier.status, courier.delivery_id) == (courier_pb2.COURIER_STATUS_IDLE, "")


async def test_a_pickup_orders_refuses_is_reported_with_its_code(fleet: FleetStack) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    assert (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).HasField("ack")
    fleet.dispatch.push(dispatch_messages.assignment(sent))
    await app.next("assignment")
    # orders never heard of this delivery.
    pickup = session_pb2.ConfirmPickup(delivery_id=sent.offer.offer.delivery_id)
    refused = (await app.ask(confirm_pickup=pickup)).error
    assert refused.status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_ASSIGNED


async def test_a_declined_offer_is_reported_with_the_reason_and_the_courier_is_idle(
    fleet: FleetStack,
) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    decline = session_pb2.DeclineOffer(offer_id=offer_id, reason=offer_pb2.DECLINE_REASON_TOO_FAR)
    assert (await app.ask(decline_offer=decline)).HasField("ack")
    response = await response_to(fleet, sent)
    assert (response.outcome, response.decline_reason) == (
        link_pb2.OFFER_OUTCOME_DECLINED,
        offer_pb2.DECLINE_REASON_TOO_FAR,
    )
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_IDLE


async def test_an_unanswered_offer_expires_for_courier_and_dispatch(fleet: FleetStack) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()), expires_in=0.5)
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    cancelled = (await app.next("offer_cancellation")).offer_cancellation
    assert (cancelled.offer_id, cancelled.reason) == (
        offer_id,
        offer_pb2.OFFER_CANCELLATION_REASON_EXPIRED,
    )
    assert (await response_to(fleet, sent)).outcome == link_pb2.OFFER_OUTCOME_EXPIRED
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_IDLE
    late = (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).error
    assert late.status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert (await app.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")


async def test_accepting_an_offer_not_held_is_refused_and_the_session_goes_on(
    fleet: FleetStack,
) -> None:
    app = await online_courier(fleet)
    refused = (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id="not-mine"))).error
    assert refused.status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert (await app.ask(heartbeat=session_pb2.Heartbeat())).HasField("ack")


async def test_a_courier_who_reconnects_mid_offer_finds_it_in_session_started(
    fleet: FleetStack,
) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    app.call.cancel()

    async def disconnected() -> bool:
        return not (await status_of(fleet, app)).connected

    await wait_until(disconnected)
    again = fleet.courier(app.courier_id)
    started = (await again.next("session_started")).session_started
    assert (started.resumed, started.status, started.offer.offer_id) == (
        True,
        courier_pb2.COURIER_STATUS_OFFERED,
        offer_id,
    )
    assert (await again.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).HasField(
        "ack"
    )
    assert (await response_to(fleet, sent)).outcome == link_pb2.OFFER_OUTCOME_ACCEPTED


async def test_a_reconnect_after_assignment_carries_the_assignment(fleet: FleetStack) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    assert (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).HasField("ack")
    fleet.dispatch.push(dispatch_messages.assignment(sent))
    await app.next("assignment")
    again = fleet.courier(app.courier_id)
    started = (await again.next("session_started")).session_started
    assert (started.status, started.assignment.offer_id) == (
        courier_pb2.COURIER_STATUS_ASSIGNED,
        offer_id,
    )
    assert (await app.next("session_closing")).session_closing.reason == (
        session_pb2.SESSION_CLOSING_REASON_REPLACED
    )


async def test_a_cancelled_assignment_is_taken_back_and_the_courier_is_idle(
    fleet: FleetStack,
) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    offer_id = (await app.next("offer")).offer.offer_id
    assert (await app.ask(accept_offer=session_pb2.AcceptOffer(offer_id=offer_id))).HasField("ack")
    fleet.dispatch.push(dispatch_messages.assignment(sent))
    await app.next("assignment")
    reason = offer_pb2.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED
    fleet.dispatch.push(dispatch_messages.cancellation(sent, reason))
    cancelled = (await app.next("offer_cancellation")).offer_cancellation
    assert (cancelled.offer_id, cancelled.reason) == (offer_id, reason)
    assert (await status_of(fleet, app)).status == courier_pb2.COURIER_STATUS_IDLE


async def test_going_offline_gives_a_held_offer_back_as_expired(fleet: FleetStack) -> None:
    app = await online_courier(fleet)
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    await app.next("offer")
    assert (await app.ask(go_offline=session_pb2.GoOffline())).HasField("ack")
    assert (await response_to(fleet, sent)).outcome == link_pb2.OFFER_OUTCOME_EXPIRED


async def test_an_offer_to_a_courier_who_is_not_idle_is_undeliverable(fleet: FleetStack) -> None:
    app = fleet.courier()
    await app.next("session_started")  # connected, but not online
    sent = dispatch_messages.offer(app.courier_id, str(uuid.uuid4()))
    fleet.dispatch.push(sent)
    assert (await response_to(fleet, sent)).outcome == link_pb2.OFFER_OUTCOME_UNDELIVERABLE
    unknown = dispatch_messages.offer("nobody-here", str(uuid.uuid4()))
    fleet.dispatch.push(unknown)
    assert (await response_to(fleet, unknown)).outcome == link_pb2.OFFER_OUTCOME_UNDELIVERABLE
