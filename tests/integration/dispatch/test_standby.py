"""One active matcher per database: a standby reports NOT_SERVING and refuses Links;
when the leader stops, gracefully or abruptly, the standby takes over the queue and
every pending delivery is still offered and assigned exactly once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2

from lastmile.dispatch.v1 import dispatch_internal_pb2 as link
from lastmile.dispatch.v1 import dispatch_pb2
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2_grpc
from services.dispatch.bootstrap import INTERNAL, PUBLIC
from tests.integration.dispatch.conftest import (
    OPS,
    PICKUP,
    Dispatch,
    StartDispatch,
    create_delivery,
    queued,
    status_in_orders,
    wait_serving,
)
from tests.integration.dispatch.fake_fleet import courier
from tests.integration.dispatch.polling import eventually, wait_for

pytestmark = pytest.mark.slow
NEAR = (PICKUP[0] + 0.002, PICKUP[1])
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_of_two_replicas_only_one_serves_and_the_standby_refuses_links(
    start_dispatch: StartDispatch,
) -> None:
    async with start_dispatch(replica_id="a") as leader:
        await wait_serving(leader)
        async with start_dispatch(replica_id="b") as standby:
            assert [await standby.health(s) for s in (INTERNAL, PUBLIC)] == [NOT_SERVING] * 2
            assert [await leader.health(s) for s in (INTERNAL, PUBLIC)] == [SERVING] * 2
            # The refusal comes before dispatch reads anything, so send nothing: a write
            # in flight when the stream ends can turn the status into INTERNAL in grpc.
            fleet = await standby.fleet().connect(hello=False)
            try:
                assert await fleet.ended() == grpc.StatusCode.UNAVAILABLE
            finally:
                await fleet.close()
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await standby.ops.GetOverview(
                    dispatch_pb2.GetOverviewRequest(), metadata=OPS.metadata
                )
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_after_a_graceful_stop_the_standby_offers_and_assigns_the_queue_once(
    start_dispatch: StartDispatch,
    orders: orders_pb2_grpc.OrdersServiceAsyncStub,
    dispatch_database: str,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        leader = await stack.enter_async_context(start_dispatch(replica_id="a"))
        await wait_serving(leader)
        standby = await stack.enter_async_context(start_dispatch(replica_id="b"))
        delivery = await create_delivery(orders)

        async def queued_at_the_leader() -> bool:
            return (await queued(leader)).total_size == 1

        await eventually(queued_at_the_leader, "the delivery in the leader's queue")
        queued_in = await stored_trace_id(dispatch_database, delivery.delivery_id)
        await leader.host.stop()
        await wait_serving(standby)
        fleet = await standby.fleet().connect(courier("c1", *NEAR))
        try:
            offer_message = await fleet.offer_of(delivery.delivery_id)
            offer = offer_message.offer
            fleet.answer(offer, "c1", link.OFFER_OUTCOME_ACCEPTED)
            await wait_for(lambda: fleet.assignments(delivery.delivery_id), "the assignment")
            stored = await status_in_orders(orders, delivery.delivery_id)
            assert (stored.status, stored.offer_id) == (
                delivery_pb2.DELIVERY_STATUS_ASSIGNED, offer.offer_id
            )  # fmt: skip
            assert len(fleet.offers(delivery.delivery_id)) == 1
            # The successor's offer still joins the trace the delivery was queued in.
            assert trace_id_of(offer_message.trace_context) == queued_in
        finally:
            await fleet.close()


async def stored_trace_id(database_url: str, delivery_id: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            "SELECT trace_context FROM pending_deliveries WHERE delivery_id = $1", delivery_id
        )
    finally:
        await connection.close()
    trace_id = trace_id_of(json.loads(stored))
    assert trace_id, "the delivery was queued without a trace"
    return trace_id


def trace_id_of(carrier: Mapping[str, str]) -> str:
    """The trace id of a W3C traceparent (version-traceid-spanid-flags); empty if none."""
    parts = carrier.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else ""


async def cut_the_leaders_connection(database_url: str) -> None:
    """What a crashed leader or a broken network does: its lock's session ends."""
    connection = await asyncpg.connect(database_url)
    try:
        terminated = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert terminated == 1
    finally:
        await connection.close()


async def the_leader(*replicas: Dispatch) -> Dispatch:
    leading: list[Dispatch] = []

    async def one_serves() -> bool:
        leading[:] = [r for r in replicas if await r.health() == SERVING]
        return len(leading) == 1

    await eventually(one_serves, "exactly one replica to lead")
    return leading[0]


async def test_after_the_leader_loses_its_lock_an_offer_a_courier_holds_is_still_assigned(
    start_dispatch: StartDispatch, orders: orders_pb2_grpc.OrdersServiceAsyncStub
) -> None:
    async with start_dispatch(replica_id="a") as first, start_dispatch(replica_id="b") as second:
        leader = await the_leader(first, second)
        fleet = await leader.fleet().connect(courier("c1", *NEAR))
        delivery = await create_delivery(orders)
        offer = (await fleet.offer_of(delivery.delivery_id)).offer
        await cut_the_leaders_connection(leader.settings.database_url)
        assert await fleet.ended() == grpc.StatusCode.UNAVAILABLE
        await fleet.close()
        successor = await the_leader(first, second)
        holding = courier(
            "c1", *NEAR, status=courier_pb2.COURIER_STATUS_OFFERED, offer_id=offer.offer_id,
            version=2,
        )  # fmt: skip
        fleet = await successor.fleet().connect(holding)
        try:
            fleet.answer(offer, "c1", link.OFFER_OUTCOME_ACCEPTED)
            sent = await wait_for(lambda: fleet.assignments(delivery.delivery_id), "assignment")
            assert sent[0].assignment.offer_id == offer.offer_id
            stored = await status_in_orders(orders, delivery.delivery_id)
            assert (stored.status, stored.offer_id) == (
                delivery_pb2.DELIVERY_STATUS_ASSIGNED, offer.offer_id
            )  # fmt: skip
            assert fleet.offers(delivery.delivery_id) == []
        finally:
            await fleet.close()
