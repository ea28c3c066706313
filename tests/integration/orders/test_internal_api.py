"""OrdersInternalService: conditional, idempotent courier transitions, and the precise
codes of an assignment that loses a race against a cancel."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import grpc
import pytest

from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.integration.test_events import eventually
from tests.orders_examples import Account, account, create_request
from tests.status_details import error_info

pytestmark = pytest.mark.slow
Assign = orders_internal_pb2.AssignCourierRequest
PickUp = orders_internal_pb2.MarkPickedUpRequest
Deliver = orders_internal_pb2.MarkDeliveredRequest


async def new_delivery(stack: OrdersStack, owner: Account | None = None) -> str:
    owner = owner or account("customer")
    reply = await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    return reply.delivery.delivery_id


async def test_a_delivery_goes_from_assigned_to_picked_up_to_delivered(
    stack: OrdersStack,
) -> None:
    delivery_id = await new_delivery(stack)
    by = {"delivery_id": delivery_id, "courier_id": "c-1", "offer_id": "o-1"}
    assigned = (await stack.internal.AssignCourier(Assign(**by))).delivery
    assert (assigned.status, assigned.courier_id, assigned.offer_id, assigned.version) == (
        delivery_pb2.DELIVERY_STATUS_ASSIGNED,
        "c-1",
        "o-1",
        2,
    )
    assert assigned.HasField("assign_time")
    picked_up = (await stack.internal.MarkPickedUp(PickUp(**by))).delivery
    assert (picked_up.status, picked_up.version) == (delivery_pb2.DELIVERY_STATUS_PICKED_UP, 3)
    delivered = (await stack.internal.MarkDelivered(Deliver(**by))).delivery
    assert (delivered.status, delivered.version) == (delivery_pb2.DELIVERY_STATUS_DELIVERED, 4)
    assert delivered.HasField("deliver_time")
    assert len(await stack.events_of(delivery_id)) == 4


async def test_repeats_of_done_transitions_succeed_unchanged_without_a_second_event(
    stack: OrdersStack,
) -> None:
    delivery_id = await new_delivery(stack)
    by = {"delivery_id": delivery_id, "courier_id": "c-1", "offer_id": "o-1"}
    first = (await stack.internal.AssignCourier(Assign(**by))).delivery
    again = (await stack.internal.AssignCourier(Assign(**by))).delivery
    assert again == first
    await stack.internal.MarkPickedUp(PickUp(**by))
    delivered = (await stack.internal.MarkDelivered(Deliver(**by))).delivery
    assert (await stack.internal.MarkDelivered(Deliver(**by))).delivery == delivered
    assert (await stack.internal.MarkPickedUp(PickUp(**by))).delivery == delivered
    assert (await stack.internal.AssignCourier(Assign(**by))).delivery == delivered
    assert len(await stack.events_of(delivery_id)) == 4


async def test_another_courier_or_offer_is_refused_with_the_current_holder(
    stack: OrdersStack,
) -> None:
    delivery_id = await new_delivery(stack)
    await stack.internal.AssignCourier(
        Assign(delivery_id=delivery_id, courier_id="c-1", offer_id="o-1")
    )
    for call in (
        stack.internal.AssignCourier(
            Assign(delivery_id=delivery_id, courier_id="c-2", offer_id="o-2")
        ),
        stack.internal.MarkPickedUp(
            PickUp(delivery_id=delivery_id, courier_id="c-1", offer_id="o-9")
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(raised.value)
        assert info.reason == "INVALID_STATE"
        assert dict(info.metadata) == {
            "current_state": "DELIVERY_STATUS_ASSIGNED",
            "courier_id": "c-1",
            "offer_id": "o-1",
        }


async def test_a_delivery_cannot_be_delivered_before_it_was_picked_up(stack: OrdersStack) -> None:
    delivery_id = await new_delivery(stack)
    by = {"delivery_id": delivery_id, "courier_id": "c-1", "offer_id": "o-1"}
    await stack.internal.AssignCourier(Assign(**by))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.internal.MarkDelivered(Deliver(**by))
    assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_cancelled_delivery_is_not_assigned(stack: OrdersStack) -> None:
    owner = account("customer")
    delivery_id = await new_delivery(stack, owner)
    await stack.orders.CancelDelivery(
        orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id), metadata=owner.metadata
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.internal.AssignCourier(
            Assign(delivery_id=delivery_id, courier_id="c", offer_id="o")
        )
    assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).metadata["current_state"] == "DELIVERY_STATUS_CANCELLED"


async def test_an_assignment_whose_read_precedes_a_committed_cancel_is_aborted(
    stack: OrdersStack,
) -> None:
    delivery_id = await new_delivery(stack)
    # A cancel that holds its row lock until the assignment has read PENDING and is
    # waiting to write: the conditional write then finds a newer version.
    canceller = await asyncpg.connect(stack.settings.database_url)
    try:
        cancel = canceller.transaction()
        await cancel.start()
        await canceller.execute(
            "UPDATE deliveries SET status = 'CANCELLED', version = version + 1,"
            " cancelled_at = now(), updated_at = now() WHERE id = $1",
            uuid.UUID(delivery_id),
        )
        assign = asyncio.ensure_future(
            stack.internal.AssignCourier(
                Assign(delivery_id=delivery_id, courier_id="c", offer_id="o")
            )
        )

        async def assignment_waits_for_the_lock() -> bool:
            waiting = await stack.database.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(waiting)

        await eventually(assignment_waits_for_the_lock, "the assignment to wait on the row")
        await cancel.commit()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await assign
    finally:
        await canceller.close()
    assert raised.value.code() is grpc.StatusCode.ABORTED
    assert error_info(raised.value).reason == "CONFLICT"
    assert len(await stack.events_of(delivery_id)) == 1


async def test_racing_assignments_and_cancels_settle_on_one_consistent_outcome_each(
    stack: OrdersStack,
) -> None:
    owner = account("merchant")
    ids = [await new_delivery(stack, owner) for _ in range(10)]
    outcomes = await asyncio.gather(
        *(
            call
            for delivery_id in ids
            for call in (
                stack.internal.AssignCourier(
                    Assign(delivery_id=delivery_id, courier_id="c", offer_id=delivery_id)
                ),
                stack.orders.CancelDelivery(
                    orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id),
                    metadata=owner.metadata,
                ),
            )
        ),
        return_exceptions=True,
    )
    for delivery_id, assigned, cancelled in zip(ids, outcomes[::2], outcomes[1::2], strict=True):
        final = (
            await stack.orders.GetDelivery(
                orders_pb2.GetDeliveryRequest(delivery_id=delivery_id), metadata=owner.metadata
            )
        ).delivery
        if isinstance(assigned, grpc.aio.AioRpcError):
            # The cancel won, before the assignment read or between its read and write.
            assert assigned.code() in {
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.ABORTED,
            }
            assert isinstance(cancelled, orders_pb2.CancelDeliveryResponse)
            assert (final.status, final.courier_id) == (delivery_pb2.DELIVERY_STATUS_CANCELLED, "")
        elif isinstance(cancelled, grpc.aio.AioRpcError):
            # The assignment won between the cancel's read and write.
            assert cancelled.code() is grpc.StatusCode.ABORTED
            assert (final.status, final.courier_id) == (delivery_pb2.DELIVERY_STATUS_ASSIGNED, "c")
        else:
            # The assignment committed first; the cancel then cancelled an ASSIGNED delivery.
            assert (final.status, final.courier_id) == (delivery_pb2.DELIVERY_STATUS_CANCELLED, "c")
        assert len(await stack.events_of(delivery_id)) == final.version


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"delivery_id": "", "courier_id": "c", "offer_id": "o"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"delivery_id": "x", "courier_id": "", "offer_id": "o"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"delivery_id": "x", "courier_id": "c", "offer_id": ""}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"delivery_id": "not-a-uuid", "courier_id": "c", "offer_id": "o"},
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            {"delivery_id": str(uuid.uuid4()), "courier_id": "c", "offer_id": "o"},
            grpc.StatusCode.NOT_FOUND,
        ),
    ],
    ids=["no-delivery", "no-courier", "no-offer", "malformed-id", "unknown-id"],
)
async def test_bad_or_unknown_internal_requests_get_precise_codes(
    stack: OrdersStack, request_fields: dict[str, str], code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.internal.AssignCourier(Assign(**request_fields))
    assert raised.value.code() is code
