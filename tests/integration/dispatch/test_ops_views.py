"""The ops views: only ops may look; counts, statistics and Links are live; the queue
pages oldest first with signed tokens."""

from __future__ import annotations

import grpc
import pytest

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.dispatch.v1 import dispatch_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import orders_pb2_grpc
from tests.integration.dispatch.conftest import (
    CUSTOMER,
    PICKUP,
    Dispatch,
    create_delivery,
    overview,
    queued,
)
from tests.integration.dispatch.fake_fleet import courier
from tests.integration.dispatch.polling import eventually
from tests.status_details import field_violations

pytestmark = pytest.mark.slow
NEAR = (PICKUP[0] + 0.002, PICKUP[1])


async def test_only_ops_may_read_the_views(dispatch: Dispatch) -> None:
    for metadata, code in (
        (CUSTOMER.metadata, grpc.StatusCode.PERMISSION_DENIED),
        ((), grpc.StatusCode.UNAUTHENTICATED),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as overview_refused:
            await dispatch.ops.GetOverview(dispatch_pb2.GetOverviewRequest(), metadata=metadata)
        assert overview_refused.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as queue_refused:
            await dispatch.ops.ListQueuedDeliveries(
                dispatch_pb2.ListQueuedDeliveriesRequest(), metadata=metadata
            )
        assert queue_refused.value.code() == code


async def test_the_overview_counts_couriers_offers_and_links(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    offline = courier("c3", *NEAR, status=courier_pb2.COURIER_STATUS_OFFLINE)
    fleet = await dispatch.fleet("fleet-7").connect(
        courier("c1", *NEAR), courier("c2", PICKUP[0] + 0.5, PICKUP[1]), offline
    )
    try:
        delivery = await create_delivery(orders)
        offer = (await fleet.offer_of(delivery.delivery_id)).offer
        fleet.answer(offer, "c1", link.OFFER_OUTCOME_DECLINED)
        newer = await create_delivery(orders)  # offered to c1, who declined the first
        await fleet.offer_of(newer.delivery_id)

        async def settled() -> bool:
            statistics = (await overview(dispatch)).offer_statistics
            return (statistics.offered, statistics.declined) == (2, 1)

        await eventually(settled, "the decline and the second offer counted")
        view = await overview(dispatch)
        counts = {c.status: c.count for c in view.courier_counts}
        assert counts == {
            courier_pb2.COURIER_STATUS_IDLE: 1,
            courier_pb2.COURIER_STATUS_OFFERED: 1,
            courier_pb2.COURIER_STATUS_ASSIGNED: 0,
            courier_pb2.COURIER_STATUS_DELIVERING: 0,
        }
        assert view.queue_length == 2
        assert [d.delivery_id for d in view.oldest] == [delivery.delivery_id, newer.delivery_id]
        assert [d.state for d in view.oldest] == [
            dispatch_pb2.QUEUE_STATE_WAITING, dispatch_pb2.QUEUE_STATE_OFFERED
        ]  # fmt: skip
        assert (view.oldest[0].decline_count, view.oldest[1].courier_id) == (1, "c1")
        assert view.HasField("oldest_age")
        assert view.matcher_replica_id == dispatch.settings.replica_id
        [fleet_link] = view.fleet_links
        assert (fleet_link.fleet_replica_id, fleet_link.courier_count) == ("fleet-7", 3)
        assert fleet_link.HasField("snapshot_time")
    finally:
        await fleet.close()


async def test_the_queue_pages_oldest_first_without_repeats(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    created = [(await create_delivery(orders)).delivery_id for _ in range(5)]

    async def all_queued() -> bool:
        return (await queued(dispatch)).total_size == 5

    await eventually(all_queued, "five queued deliveries")
    seen, token = [], ""
    while True:
        page = await queued(dispatch, page_size=2, page_token=token)
        assert page.total_size == 5
        assert len(page.deliveries) <= 2
        seen += [d.delivery_id for d in page.deliveries]
        token = page.next_page_token
        if not token:
            break
    assert seen == created


@pytest.mark.parametrize(
    ("page_size", "page_token", "field"),
    [(-1, "", "page_size"), (0, "not-a-token", "page_token"), (0, "A" * 60, "page_token")],
)
async def test_a_bad_page_request_is_invalid_argument(
    dispatch: Dispatch, page_size: int, page_token: str, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await queued(dispatch, page_size=page_size, page_token=page_token)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {field}
