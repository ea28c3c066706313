"""orders on a real PostgreSQL and NATS, with the real pricing in process, both served
on port 0 (tests/integration/stack.py); one stack per test module, and fresh accounts per
test keep tests apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest

from lastmile.events.v1 import envelope_pb2
from lastmile.orders.v1 import orders_internal_pb2_grpc, orders_pb2_grpc
from lastmile.pricing.v1 import pricing_pb2_grpc
from services.devstack import LocalNats, LocalPostgres
from services.orders.config import OrdersSettings
from services.runtime.database import Database
from tests.integration.stack import PricingClock, orders_with_pricing


@dataclass
class OrdersStack:
    """Stubs for a running orders (and its pricing), and orders' database."""

    orders: orders_pb2_grpc.OrdersServiceAsyncStub
    internal: orders_internal_pb2_grpc.OrdersInternalServiceAsyncStub
    pricing: pricing_pb2_grpc.PricingServiceAsyncStub
    pricing_internal: pricing_pb2_grpc.PricingInternalServiceAsyncStub
    pricing_clock: PricingClock
    database: Database
    settings: OrdersSettings

    async def outbox(self, *, unpublished: bool = False) -> list[envelope_pb2.EventEnvelope]:
        """orders' outbox, in the order it was written; only what the relay has not
        published yet if `unpublished`."""
        rows = await self.database.pool.fetch(
            "SELECT envelope FROM outbox WHERE $1 = false OR published_at IS NULL"
            " ORDER BY position",
            unpublished,
        )
        return [envelope_pb2.EventEnvelope.FromString(bytes(r["envelope"])) for r in rows]

    async def events_of(self, delivery_id: str) -> list[envelope_pb2.EventEnvelope]:
        return [e for e in await self.outbox() if e.subject == delivery_id]


@pytest.fixture(scope="module")
async def stack(postgres: LocalPostgres, nats: LocalNats) -> AsyncIterator[OrdersStack]:
    async with orders_with_pricing(postgres, nats.url) as served:
        database = Database(served.settings.database_url)
        await database.connect()
        try:
            async with (
                grpc.aio.insecure_channel(served.address) as orders,
                grpc.aio.insecure_channel(served.pricing_address) as pricing,
            ):
                yield OrdersStack(
                    orders_pb2_grpc.OrdersServiceStub(orders),
                    orders_internal_pb2_grpc.OrdersInternalServiceStub(orders),
                    pricing_pb2_grpc.PricingServiceStub(pricing),
                    pricing_pb2_grpc.PricingInternalServiceStub(pricing),
                    served.pricing_clock,
                    database,
                    served.settings,
                )
        finally:
            await database.close()
