"""fleet in process on port 0, over a real PostgreSQL and NATS, with the real orders
(and pricing) in process, and a fake dispatch serving the Link; one database per
module, a fresh fleet and fake dispatch per test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from lastmile.events.v1 import envelope_pb2
from lastmile.fleet.v1 import courier_session_pb2_grpc as session_pb2_grpc
from lastmile.fleet.v1 import fleet_internal_pb2_grpc
from lastmile.orders.v1 import orders_internal_pb2_grpc, orders_pb2_grpc
from services.devstack import LocalNats, LocalPostgres, free_port
from services.fleet.bootstrap import bootstrap
from services.fleet.config import FleetSettings
from services.runtime.database import Database
from services.runtime.server import ServiceHost
from tests.integration.fleet.courier_app import CourierApp
from tests.integration.fleet.fake_dispatch import FakeDispatch, FakeDispatchServer
from tests.integration.stack import orders_with_pricing
from tests.servers import serving


async def wait_until(condition: Callable[[], Any], *, limit: float = 20.0) -> Any:
    """Poll `condition` until it returns something truthy; fail after `limit` seconds."""
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {limit}s")


@dataclass
class FleetStack:
    """A running fleet with its fake dispatch, the real orders, and fleet's database."""

    host: ServiceHost
    settings: FleetSettings
    sessions: session_pb2_grpc.CourierSessionServiceAsyncStub
    internal: fleet_internal_pb2_grpc.FleetInternalServiceAsyncStub
    orders: orders_pb2_grpc.OrdersServiceAsyncStub
    orders_internal: orders_internal_pb2_grpc.OrdersInternalServiceAsyncStub
    dispatch_server: FakeDispatchServer
    database: Database

    @property
    def dispatch(self) -> FakeDispatch:
        return self.dispatch_server.fake

    def courier(self, courier_id: str | None = None, *, role: str = "courier") -> CourierApp:
        return CourierApp(self.sessions, courier_id or f"courier-{uuid.uuid4().hex[:12]}", role)

    async def outbox(self) -> list[envelope_pb2.EventEnvelope]:
        rows = await self.database.pool.fetch("SELECT envelope FROM outbox ORDER BY position")
        return [envelope_pb2.EventEnvelope.FromString(bytes(r["envelope"])) for r in rows]


@pytest.fixture(scope="module")
async def orders_address(postgres: LocalPostgres, nats: LocalNats) -> AsyncIterator[str]:
    async with orders_with_pricing(postgres, nats.url) as orders:
        yield orders.address


@pytest.fixture(scope="module")
async def fleet_dsn(postgres: LocalPostgres) -> str:
    name = f"fleet_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    return postgres.dsn(name)


FleetFactory = Callable[..., AbstractAsyncContextManager[FleetStack]]


@pytest.fixture
def start_fleet(nats: LocalNats, orders_address: str, fleet_dsn: str) -> FleetFactory:
    """`async with start_fleet(**settings) as fleet:` a fleet and its fake dispatch."""

    @asynccontextmanager
    async def started(**overrides: Any) -> AsyncIterator[FleetStack]:
        dispatch = FakeDispatchServer(free_port())
        await dispatch.start()
        values: dict[str, Any] = {
            "grpc_port": 0, "admin_port": -1, "database_url": fleet_dsn, "nats_url": nats.url,
            "orders_target": orders_address, "dispatch_targets": dispatch.address,
            "replica_id": f"fleet-test-{uuid.uuid4().hex[:6]}", "shutdown_grace_seconds": 2,
            **overrides,
        }  # fmt: skip
        settings = FleetSettings(**values)
        database = Database(fleet_dsn)
        host = bootstrap(settings)
        try:
            async with serving(host) as address:
                await database.connect()
                async with (
                    grpc.aio.insecure_channel(address) as fleet_channel,
                    grpc.aio.insecure_channel(orders_address) as orders_channel,
                ):
                    yield FleetStack(
                        host,
                        settings,
                        session_pb2_grpc.CourierSessionServiceStub(fleet_channel),
                        fleet_internal_pb2_grpc.FleetInternalServiceStub(fleet_channel),
                        orders_pb2_grpc.OrdersServiceStub(orders_channel),
                        orders_internal_pb2_grpc.OrdersInternalServiceStub(orders_channel),
                        dispatch,
                        database,
                    )
        finally:
            await database.close()
            await dispatch.stop()

    return started


@pytest.fixture
async def fleet(start_fleet: FleetFactory) -> AsyncIterator[FleetStack]:
    async with start_fleet() as stack:
        yield stack
