"""The Link's protocol: hello, snapshot, then live messages; a newer Link replaces an
older one; a cut Link and its re-snapshot leave the index as fleet holds it."""

from __future__ import annotations

import grpc
import pytest

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import orders_pb2_grpc
from tests.integration.dispatch.conftest import (
    PICKUP,
    Dispatch,
    create_delivery,
    overview,
)
from tests.integration.dispatch.fake_fleet import courier
from tests.integration.dispatch.polling import eventually

pytestmark = pytest.mark.slow
NEAR = (PICKUP[0] + 0.002, PICKUP[1])
HELLO = link.LinkRequest(hello=link.LinkHello(fleet_replica_id="fleet-1"))
CHANGE = link.LinkRequest(courier_changed=link.CourierChanged(courier=courier("c1", *NEAR)))
PARTIAL = link.LinkRequest(snapshot=link.CourierSnapshot(snapshot_id="s1", last_chunk=False))


PROTOCOL = "Link protocol violation"


@pytest.mark.parametrize(
    ("requests", "why"),
    [
        pytest.param([CHANGE], PROTOCOL, id="a change before hello"),
        pytest.param([HELLO, CHANGE], PROTOCOL, id="a change before the snapshot"),
        pytest.param([HELLO, PARTIAL, CHANGE], PROTOCOL, id="a change before the last chunk"),
        pytest.param([HELLO, HELLO], PROTOCOL, id="a second hello"),
        # A malformed message breaks the contract's rules, named by the runtime.
        pytest.param([link.LinkRequest()], "message: exactly one field", id="an empty message"),
        pytest.param(
            [link.LinkRequest(hello=link.LinkHello())],
            "hello.fleet_replica_id: is required",
            id="hello without replica id",
        ),
    ],
)
async def test_a_link_that_breaks_the_protocol_ends_with_invalid_argument(
    dispatch: Dispatch, requests: list[link.LinkRequest], why: str
) -> None:
    fleet = await dispatch.fleet().connect(hello=False)
    for request in requests:
        fleet.send(request)
    try:
        assert await fleet.ended() == grpc.StatusCode.INVALID_ARGUMENT
        assert why in await fleet.details()
    finally:
        await fleet.close()


async def test_a_newer_link_from_the_same_replica_replaces_the_older_one(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    older = await dispatch.fleet().connect(courier("c1", *NEAR))
    newer = dispatch.fleet()
    try:
        await newer.connect(courier("c1", *NEAR, version=2))
        assert await older.ended() == grpc.StatusCode.ABORTED
        delivery = await create_delivery(orders)
        assert (await newer.offer_of(delivery.delivery_id)).courier_id == "c1"
        assert older.offers(delivery.delivery_id) == []
    finally:
        await older.close()
        await newer.close()


async def idle_count(dispatch: Dispatch) -> int:
    counts = (await overview(dispatch)).courier_counts
    return sum(c.count for c in counts if c.status == courier_pb2.COURIER_STATUS_IDLE)


async def test_a_cut_link_drops_its_couriers_and_its_resnapshot_restores_them(
    dispatch: Dispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    first = await dispatch.fleet().connect(courier("c1", *NEAR), courier("c2", *NEAR))

    async def idle(count: int) -> bool:
        return await idle_count(dispatch) == count

    await eventually(lambda: idle(2), "two idle couriers")
    await first.close()
    await eventually(lambda: idle(0), "the cut Link's couriers to be dropped")
    again = await dispatch.fleet().connect(courier("c2", *NEAR))
    try:
        await eventually(lambda: idle(1), "the re-snapshot's courier")
        delivery = await create_delivery(orders)
        assert (await again.offer_of(delivery.delivery_id)).courier_id == "c2"
    finally:
        await again.close()
