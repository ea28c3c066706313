"""The queue: deliveries nobody can take wait and are offered when a courier becomes
IDLE; cancels drop them, withdraw their offers or take back their assignments."""

from __future__ import annotations

import pytest

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.dispatch.v1 import dispatch_pb2
from lastmile.fleet.v1 import courier_pb2, offer_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2_grpc
from tests.integration.dispatch.conftest import (
    PICKUP,
    Dispatch,
    cancel,
    create_delivery,
    queued,
    status_in_orders,
)
from tests.integration.dispatch.fake_fleet import FakeFleet, courier
from tests.integration.dispatch.polling import eventually, wait_for

pytestmark = pytest.mark.slow
NEAR = (PICKUP[0] + 0.002, PICKUP[1])


async def queue_states(dispatch: Dispatch) -> dict[str, dispatch_pb2.QueueState.ValueType]:
    return {d.delivery_id: d.state for d in (await queued(dispatch)).deliveries}


async def wait_until_queued(
    dispatch: Dispatch, delivery_id: str, state: dispatch_pb2.QueueState.ValueType
) -> None:
    async def there() -> bool:
        return (await queue_states(dispatch)).get(delivery_id) == state

    await eventually(there, f"{delivery_id} to be {dispatch_pb2.QueueState.Name(state)}")


async def wait_until_gone(dispatch: Dispatch, delivery_id: str) -> None:
    async def gone() -> bool:
        return delivery_id not in await queue_states(dispatch)

    await eventually(gone, f"{delivery_id} to leave the queue")


def withdrawn(fleet: FakeFleet, delivery_id: str) -> list[int]:
    return [c.cancellation.reason for c in fleet.cancellations(delivery_id)]


async def test_a_delivery_nobody_can_take_waits_and_is_offered_when_a_courier_becomes_idle(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    busy = courier("c1", *NEAR, status=courier_pb2.COURIER_STATUS_ASSIGNED, delivery_id="d0")
    async with dispatch.linked(busy) as fleet:
        delivery = await create_delivery(orders)
        await wait_until_queued(dispatch, delivery.delivery_id, dispatch_pb2.QUEUE_STATE_WAITING)
        assert fleet.offers(delivery.delivery_id) == []
        fleet.changed(courier("c1", *NEAR, version=2))
        assert (await fleet.offer_of(delivery.delivery_id)).courier_id == "c1"
        await wait_until_queued(dispatch, delivery.delivery_id, dispatch_pb2.QUEUE_STATE_OFFERED)


async def test_a_waiting_delivery_is_offered_to_a_courier_who_moves_within_reach(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("c1", PICKUP[0] + 0.5, PICKUP[1])) as fleet:
        delivery = await create_delivery(orders)
        await wait_until_queued(dispatch, delivery.delivery_id, dispatch_pb2.QUEUE_STATE_WAITING)
        fleet.moved("c1", *NEAR)
        assert (await fleet.offer_of(delivery.delivery_id)).courier_id == "c1"


async def test_a_cancelled_waiting_delivery_leaves_the_queue(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    delivery = await create_delivery(orders)
    await wait_until_queued(dispatch, delivery.delivery_id, dispatch_pb2.QUEUE_STATE_WAITING)
    await cancel(orders, delivery.delivery_id)
    await wait_until_gone(dispatch, delivery.delivery_id)


async def test_cancelling_an_offered_delivery_withdraws_the_offer(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("c1", *NEAR)) as fleet:
        delivery = await create_delivery(orders)
        await fleet.offer_of(delivery.delivery_id)
        await cancel(orders, delivery.delivery_id)
        reasons = await wait_for(lambda: withdrawn(fleet, delivery.delivery_id), "a withdrawal")
        assert reasons == [offer_pb2.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED]
        await wait_until_gone(dispatch, delivery.delivery_id)


async def test_cancelling_an_assigned_delivery_takes_it_back_from_the_courier(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("c1", *NEAR)) as fleet:
        delivery = await create_delivery(orders)
        offer = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(offer, "c1", link.OFFER_OUTCOME_ACCEPTED)
        await wait_for(lambda: fleet.assignments(delivery.delivery_id), "the assignment")
        await cancel(orders, delivery.delivery_id)
        sent = await wait_for(lambda: fleet.cancellations(delivery.delivery_id), "a withdrawal")
        assert (sent[0].courier_id, sent[0].cancellation.offer_id) == ("c1", offer.offer_id)
        assert sent[0].cancellation.reason == offer_pb2.OFFER_CANCELLATION_REASON_DELIVERY_CANCELLED
        assert sent[0].cancellation.detail == "changed my mind"


async def test_an_acceptance_racing_a_cancel_never_leaves_the_courier_a_cancelled_delivery(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with dispatch.linked(courier("c1", *NEAR)) as fleet:
        delivery = await create_delivery(orders)
        offer = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(offer, "c1", link.OFFER_OUTCOME_ACCEPTED)
        await cancel(orders, delivery.delivery_id)  # races the acceptance on its way
        await wait_for(lambda: fleet.cancellations(delivery.delivery_id), "the offer taken back")
        stored = await status_in_orders(orders, delivery.delivery_id)
        assert stored.status == delivery_pb2.DELIVERY_STATUS_CANCELLED
        about_it = [r for r in fleet.received if delivery.delivery_id in str(r)]
        assert about_it[-1].HasField("offer_cancellation")
        await wait_until_gone(dispatch, delivery.delivery_id)
