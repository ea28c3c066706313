"""From delivery.created to an assignment: the nearest eligible courier is offered the
delivery, and the courier who accepts gets it through orders."""

from __future__ import annotations

import pytest

from lastmile.common.v1 import parcel_pb2
from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.fleet.v1 import offer_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2_grpc
from tests.integration.dispatch.conftest import (
    PICKUP,
    Dispatch,
    StartDispatch,
    create_delivery,
    status_in_orders,
    wait_serving,
)
from tests.integration.dispatch.fake_fleet import Bicycle, Van, courier
from tests.integration.dispatch.polling import wait_for

pytestmark = pytest.mark.slow
NEAR, FAR = (PICKUP[0] + 0.002, PICKUP[1]), (PICKUP[0] + 0.02, PICKUP[1])


async def test_the_nearest_idle_courier_gets_the_offer_without_contacts(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("far", *FAR), courier("near", *NEAR)) as fleet:
        delivery = await create_delivery(orders)
        sent = await fleet.offer_of(delivery.delivery_id)
        offer = sent.offer
        assert sent.courier_id == "near"
        assert offer.delivery_id == delivery.delivery_id
        assert not offer.pickup.HasField("contact")
        assert not offer.dropoff.HasField("contact")
        assert offer.pickup.address == delivery.pickup.address
        assert offer.payout.amount_minor == delivery.price.amount_minor * 80 // 100
        assert 150 < offer.pickup_distance_meters < 300
        # 1,112 m straight north, times the default road factor of 1.3: about 1,446 m.
        assert 1400 < offer.delivery_distance_meters < 1500
        assert offer.expire_time.ToDatetime() > offer.create_time.ToDatetime()
        assert len(fleet.offers(delivery.delivery_id)) == 1


async def test_a_bicycle_is_never_offered_an_extra_large_parcel(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(
        courier("bike", *NEAR, vehicle=Bicycle), courier("van", *FAR, vehicle=Van)
    ) as fleet:
        parcel = parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_EXTRA_LARGE, weight_grams=9000)
        delivery = await create_delivery(orders, parcel=parcel)
        assert (await fleet.offer_of(delivery.delivery_id)).courier_id == "van"


async def test_an_accepted_offer_is_assigned_in_orders_and_sent_with_the_contacts(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("near", *NEAR)) as fleet:
        delivery = await create_delivery(orders)
        offer = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(offer, "near", link.OFFER_OUTCOME_ACCEPTED)
        sent = await wait_for(lambda: fleet.assignments(delivery.delivery_id), "the assignment")
        assignment = sent[0].assignment
        assert sent[0].courier_id == "near"
        assert assignment.offer_id == offer.offer_id
        assert assignment.pickup.contact.phone == delivery.pickup.contact.phone
        assert assignment.dropoff.contact.name == delivery.dropoff.contact.name
        assert not assignment.picked_up
        assert assignment.HasField("assign_time")
        stored = await status_in_orders(orders, delivery.delivery_id)
        assert stored.status == delivery_pb2.DELIVERY_STATUS_ASSIGNED
        assert (stored.courier_id, stored.offer_id) == ("near", offer.offer_id)


async def test_a_courier_who_declines_is_not_offered_the_same_delivery_again(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("near", *NEAR), courier("far", *FAR)) as fleet:
        delivery = await create_delivery(orders)
        first = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(first, "near", link.OFFER_OUTCOME_DECLINED)
        second = await fleet.offer_of(delivery.delivery_id, 2)
        assert second.courier_id == "far"
        fleet.answer(second.offer, "far", link.OFFER_OUTCOME_DECLINED)
        fleet.changed(courier("near", *NEAR, version=3))  # idle again after declining
        # A newer delivery reaches "near" only after the waiting one was tried first.
        newer = await create_delivery(orders)
        assert (await fleet.offer_of(newer.delivery_id)).courier_id == "near"
        assert [o.courier_id for o in fleet.offers(delivery.delivery_id)] == ["near", "far"]


async def test_an_offer_that_times_out_moves_to_the_next_courier(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("near", *NEAR), courier("far", *FAR)) as fleet:
        delivery = await create_delivery(orders)
        first = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(first, "near", link.OFFER_OUTCOME_EXPIRED)
        assert (await fleet.offer_of(delivery.delivery_id, 2)).courier_id == "far"


async def test_an_unanswered_offer_is_withdrawn_as_expired_and_moves_to_the_next_courier(
    start_dispatch: StartDispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with start_dispatch(offer_ttl_seconds=0.5) as dispatch:
        await wait_serving(dispatch)
        async with dispatch.linked(courier("near", *NEAR), courier("far", *FAR)) as fleet:
            delivery = await create_delivery(orders)
            first = (await fleet.offer_of(delivery.delivery_id)).offer
            assert (await fleet.offer_of(delivery.delivery_id, 2)).courier_id == "far"
            withdrawn = fleet.cancellations(delivery.delivery_id)
            assert [(c.courier_id, c.cancellation.offer_id, c.cancellation.reason)
                    for c in withdrawn] == [
                ("near", first.offer_id, offer_pb2.OFFER_CANCELLATION_REASON_EXPIRED)
            ]  # fmt: skip
