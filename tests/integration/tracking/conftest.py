"""tracking in process on port 0, over the real NATS and a real orders (with pricing and
PostgreSQL), both built the way the orders integration tests build them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest

from lastmile.orders.v1 import orders_internal_pb2_grpc, orders_pb2_grpc
from lastmile.tracking.v1 import tracking_pb2_grpc
from services.devstack import LocalNats, LocalPostgres
from services.runtime.server import ServiceHost
from services.tracking.adapters.nats_events import NatsEventSource
from services.tracking.bootstrap import bootstrap
from services.tracking.config import TrackingSettings
from services.tracking.domain.progress import CourierFix, StatusChange
from services.tracking.service_layer.ports import EventSource, Subscription
from tests.integration.stack import orders_with_pricing
from tests.servers import serving


class CountingEvents(EventSource):
    """The real NATS feeds, counting the upstream subscriptions tracking opens."""

    def __init__(self, feed: EventSource) -> None:
        self._feed = feed
        self.delivery_subscriptions = 0
        self.courier_subscriptions = 0

    async def delivery_changes(
        self, delivery_id: str, deliver: Callable[[StatusChange], None]
    ) -> Subscription:
        self.delivery_subscriptions += 1
        return await self._feed.delivery_changes(delivery_id, deliver)

    async def courier_positions(
        self, courier_id: str, deliver: Callable[[CourierFix], None]
    ) -> Subscription:
        self.courier_subscriptions += 1
        return await self._feed.courier_positions(courier_id, deliver)


@dataclass
class TrackingStack:
    """A running tracking and the orders it asks, with stubs for both."""

    tracking: tracking_pb2_grpc.TrackingServiceAsyncStub
    orders: orders_pb2_grpc.OrdersServiceAsyncStub
    internal: orders_internal_pb2_grpc.OrdersInternalServiceAsyncStub
    events: CountingEvents
    host: ServiceHost


@pytest.fixture(scope="module")
async def orders_address(postgres: LocalPostgres, nats: LocalNats) -> AsyncIterator[str]:
    async with orders_with_pricing(postgres, nats.url) as orders:
        yield orders.address


@pytest.fixture
async def stack(nats: LocalNats, orders_address: str) -> AsyncIterator[TrackingStack]:
    feed = NatsEventSource(nats.url, name="tracking-test")
    await feed.start()
    events = CountingEvents(feed)
    settings = TrackingSettings(
        grpc_port=0, admin_port=-1, nats_url=nats.url, orders_target=orders_address
    )
    host = bootstrap(settings, events=events)
    try:
        async with (
            serving(host) as address,
            grpc.aio.insecure_channel(address) as tracking,
            grpc.aio.insecure_channel(orders_address) as orders,
        ):
            yield TrackingStack(
                tracking_pb2_grpc.TrackingServiceStub(tracking),
                orders_pb2_grpc.OrdersServiceStub(orders),
                orders_internal_pb2_grpc.OrdersInternalServiceStub(orders),
                events,
                host,
            )
    finally:
        await feed.stop()
