"""NATS stopped and started again under tracking and orders: tracking refuses new watches
with UNAVAILABLE and reports NOT_SERVING until the broker is back; orders keeps creating
(its events wait in the outbox, in PostgreSQL) and publishes them once it is back.

The NATS here is this module's own, so stopping it disturbs no other test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lastmile.orders.v1 import orders_pb2_grpc
from lastmile.tracking.v1 import tracking_pb2, tracking_pb2_grpc
from services.devstack import LocalNats, LocalPostgres
from services.runtime.database import Database
from services.tracking.bootstrap import bootstrap as tracking_bootstrap
from services.tracking.config import TrackingSettings
from tests.integration.stack import ServedOrders, orders_with_pricing, running_nats
from tests.orders_examples import account, create_request
from tests.servers import serving
from tests.status_details import error_info

pytestmark = pytest.mark.slow
TRACKING = tracking_pb2.DESCRIPTOR.services_by_name["TrackingService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# Bounds that turn a hang into a failure; not figures the tests assert.
FOLLOW_LIMIT_SECONDS = 30


@dataclass
class BrokerStack:
    nats: LocalNats
    orders: ServedOrders
    tracking_address: str


@pytest.fixture
async def stack(postgres: LocalPostgres, tmp_path: Path) -> AsyncIterator[BrokerStack]:
    async with (
        running_nats(tmp_path / "nats") as own_nats,
        orders_with_pricing(postgres, own_nats.url) as orders,
    ):
        settings = TrackingSettings(
            grpc_port=0, admin_port=-1, nats_url=own_nats.url, orders_target=orders.address
        )
        async with serving(tracking_bootstrap(settings)) as tracking_address:
            yield BrokerStack(own_nats, orders, tracking_address)


async def health_reaches(address: str, service: str, wanted: int) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=FOLLOW_LIMIT_SECONDS
        )
        async for reply in watch:
            if reply.status == wanted:
                watch.cancel()
                return


async def first_watch_message(
    address: str, delivery_id: str, metadata: tuple[tuple[str, str], ...]
) -> tracking_pb2.WatchDeliveryResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stream = tracking_pb2_grpc.TrackingServiceStub(channel).WatchDelivery(
            tracking_pb2.WatchDeliveryRequest(delivery_id=delivery_id),
            metadata=metadata,
            timeout=FOLLOW_LIMIT_SECONDS,
        )
        message = await stream.read()
        stream.cancel()
        assert isinstance(message, tracking_pb2.WatchDeliveryResponse), "the stream ended"
        return message


async def unpublished_events(database_url: str) -> int:
    database = Database(database_url, min_size=1, max_size=1)
    await database.connect()
    try:
        return int(
            await database.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
    finally:
        await database.close()


async def test_while_the_broker_is_down_new_watches_are_unavailable_and_tracking_not_serving(
    stack: BrokerStack,
) -> None:
    customer = account("customer")
    async with grpc.aio.insecure_channel(stack.orders.address) as channel:
        created = await orders_pb2_grpc.OrdersServiceStub(channel).CreateDelivery(
            create_request(), metadata=customer.metadata, timeout=10
        )
    delivery_id = created.delivery.delivery_id

    async with stack.nats.stopped():
        await health_reaches(stack.tracking_address, TRACKING, NOT_SERVING)
        await health_reaches(stack.tracking_address, "", NOT_SERVING)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await first_watch_message(stack.tracking_address, delivery_id, customer.metadata)

    await health_reaches(stack.tracking_address, TRACKING, SERVING)
    after = await first_watch_message(stack.tracking_address, delivery_id, customer.metadata)

    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(refused.value).reason == "UPSTREAM_UNAVAILABLE"
    assert after.HasField("snapshot")


async def test_creates_succeed_while_the_broker_is_down_and_their_events_follow(
    stack: BrokerStack,
) -> None:
    customer = account("customer")
    async with grpc.aio.insecure_channel(stack.orders.address) as channel:
        async with stack.nats.stopped():
            during = [
                await orders_pb2_grpc.OrdersServiceStub(channel).CreateDelivery(
                    create_request(f"broker-down-{n}"), metadata=customer.metadata, timeout=10
                )
                for n in range(3)
            ]
            waiting = await unpublished_events(stack.orders.settings.database_url)
        drained = await outbox_drains(stack.orders.settings.database_url)

    assert all(reply.delivery.delivery_id for reply in during)
    assert waiting >= 3
    assert drained


async def outbox_drains(database_url: str) -> bool:
    """Whether the relay publishes every waiting event within the follow limit."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + FOLLOW_LIMIT_SECONDS
    while loop.time() < give_up:
        if await unpublished_events(database_url) == 0:
            return True
        await asyncio.sleep(0.2)
    return False
