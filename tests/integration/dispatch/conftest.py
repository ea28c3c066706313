"""dispatch in process on port 0 over a real PostgreSQL (a fresh database per test), a
real orders (with pricing) and a JetStream of their own per module, so that no other
module's delivery events reach the matcher. fleet is faked by each test (FakeFleet)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import nats as nats_client
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.errors import NotFoundError

from lastmile.dispatch.v1 import dispatch_pb2, dispatch_pb2_grpc
from lastmile.fleet.v1 import courier_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2, orders_pb2_grpc
from services.devstack import LocalNats, LocalPostgres
from services.dispatch.bootstrap import INTERNAL, bootstrap
from services.dispatch.config import DispatchSettings
from services.runtime.events import streams
from services.runtime.server import ServiceHost
from tests.integration.dispatch.fake_fleet import FakeFleet
from tests.integration.dispatch.polling import eventually
from tests.integration.stack import orders_with_pricing, running_nats
from tests.orders_examples import account, create_request, stop
from tests.servers import serving

CUSTOMER = account("customer")
OPS = account("ops")
# Berlin-Mitte: pickups here, couriers placed around them.
PICKUP = (52.5200, 13.4050)


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNats]:
    async with running_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
async def orders_address(postgres: LocalPostgres, broker: LocalNats) -> AsyncIterator[str]:
    async with orders_with_pricing(postgres, broker.url) as orders:
        yield orders.address


@dataclass
class Dispatch:
    """One running dispatch replica and clients of it."""

    host: ServiceHost
    address: str
    channel: grpc.aio.Channel
    settings: DispatchSettings

    @property
    def ops(self) -> dispatch_pb2_grpc.DispatchServiceAsyncStub:
        return dispatch_pb2_grpc.DispatchServiceStub(self.channel)

    def fleet(self, replica_id: str = "fleet-1") -> FakeFleet:
        return FakeFleet(self.channel, replica_id)

    @asynccontextmanager
    async def linked(self, *couriers: courier_pb2.Courier) -> AsyncIterator[FakeFleet]:
        """A fleet replica Linked with a snapshot of `couriers`, closed when the block ends."""
        fleet = await self.fleet().connect(*couriers)
        try:
            yield fleet
        finally:
            await fleet.close()

    async def health(self, service: str = INTERNAL) -> int:
        stub = health_pb2_grpc.HealthStub(self.channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
        return int(reply.status)


QueuePage = dispatch_pb2.ListQueuedDeliveriesResponse
StartDispatch = Callable[..., AbstractAsyncContextManager[Dispatch]]


@pytest.fixture
async def dispatch_database(postgres: LocalPostgres, broker: LocalNats) -> str:
    """A fresh database, and a delivery stream emptied of earlier tests' events."""
    name = f"dispatch_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    connection = await nats_client.connect(broker.url)
    try:
        await connection.jetstream().purge_stream(streams.DELIVERY_EVENTS.name)
    except NotFoundError:
        pass
    finally:
        await connection.close()
    return postgres.dsn(name)


@pytest.fixture
def start_dispatch(dispatch_database: str, broker: LocalNats, orders_address: str) -> StartDispatch:
    consumer = f"dispatch_{uuid.uuid4().hex[:8]}"

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Dispatch]:
        fields: dict[str, Any] = {
            "grpc_port": 0, "admin_port": -1, "database_url": dispatch_database,
            "nats_url": broker.url, "orders_target": orders_address, "consumer_name": consumer,
            "leader_poll_seconds": 0.2, "sweep_seconds": 0.2, "offer_grace_seconds": 0.2,
            "shutdown_grace_seconds": 2,
        }  # fmt: skip
        fields.update(overrides)
        settings = DispatchSettings(**fields)
        host = bootstrap(settings)
        async with serving(host) as address, grpc.aio.insecure_channel(address) as channel:
            yield Dispatch(host, address, channel, settings)

    return start


@pytest.fixture
async def dispatch(start_dispatch: StartDispatch) -> AsyncIterator[Dispatch]:
    """One dispatch replica, already the active matcher."""
    async with start_dispatch() as running:
        await wait_serving(running)
        yield running


async def wait_serving(running: Dispatch) -> None:
    async def leading() -> bool:
        return bool(await running.health() == health_pb2.HealthCheckResponse.SERVING)

    await eventually(leading, "dispatch to become the active matcher")


@pytest.fixture(scope="module")
async def orders(orders_address: str) -> AsyncIterator[orders_pb2_grpc.OrdersServiceAsyncStub]:
    async with grpc.aio.insecure_channel(orders_address) as channel:
        yield orders_pb2_grpc.OrdersServiceStub(channel)


async def create_delivery(
    orders: orders_pb2_grpc.OrdersServiceAsyncStub,
    *,
    pickup: tuple[float, float] = PICKUP,
    **overrides: object,
) -> delivery_pb2.Delivery:
    """A delivery created through orders' servicer, so that delivery.created flows."""
    dropoff = (pickup[0] + 0.01, pickup[1])
    request = create_request(
        pickup=stop(*pickup, "Alexanderplatz 1, Berlin"),
        dropoff=stop(*dropoff, "Invalidenstraße 50, Berlin"),
        **overrides,
    )
    reply = await orders.CreateDelivery(request, metadata=CUSTOMER.metadata)
    return reply.delivery


async def queued(dispatch: Dispatch, page_size: int = 0, page_token: str = "") -> QueuePage:
    """One page of the queue, as ops sees it."""
    request = dispatch_pb2.ListQueuedDeliveriesRequest(page_size=page_size, page_token=page_token)
    return await dispatch.ops.ListQueuedDeliveries(request, metadata=OPS.metadata)


async def overview(dispatch: Dispatch) -> dispatch_pb2.DispatchOverview:
    request = dispatch_pb2.GetOverviewRequest()
    return (await dispatch.ops.GetOverview(request, metadata=OPS.metadata)).overview


async def cancel(orders: orders_pb2_grpc.OrdersServiceAsyncStub, delivery_id: str) -> None:
    request = orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id, reason="changed my mind")
    await orders.CancelDelivery(request, metadata=CUSTOMER.metadata)


async def status_in_orders(
    orders: orders_pb2_grpc.OrdersServiceAsyncStub, delivery_id: str
) -> delivery_pb2.Delivery:
    request = orders_pb2.GetDeliveryRequest(delivery_id=delivery_id)
    return (await orders.GetDelivery(request, metadata=CUSTOMER.metadata)).delivery
