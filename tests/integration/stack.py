"""Real servers that several integration suites start alike: a NATS JetStream, and orders
with the real pricing, both in process on port 0, each stopped when its block ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.devstack import LocalNats, LocalPostgres, free_port
from services.orders.bootstrap import bootstrap as orders_bootstrap
from services.orders.config import OrdersSettings
from services.pricing.bootstrap import bootstrap as pricing_bootstrap
from services.pricing.config import PricingSettings
from services.runtime.server import ServiceHost
from tests.servers import serving


class PricingClock:
    """The clock of pricing and orders, which a test may move forward to let quotes expire
    (orders checks a quote's expiry itself, by its own clock)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True)
class ServedOrders:
    """A running orders, the pricing it quotes with, and their clock."""

    address: str
    pricing_address: str
    settings: OrdersSettings
    pricing_clock: PricingClock
    # To stop pricing under a running orders (stopping twice is safe).
    pricing: ServiceHost


@asynccontextmanager
async def running_nats(directory: Path) -> AsyncIterator[LocalNats]:
    server = LocalNats(directory, free_port(), free_port())
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def orders_with_pricing(
    postgres: LocalPostgres, nats_url: str
) -> AsyncIterator[ServedOrders]:
    """orders on a database of its own, publishing to `nats_url`, and its pricing."""
    clock = PricingClock()
    name = f"orders_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    pricing = pricing_bootstrap(PricingSettings(grpc_port=0, admin_port=-1), clock=clock)
    async with serving(pricing) as pricing_address:
        settings = OrdersSettings(
            grpc_port=0,
            admin_port=-1,
            database_url=postgres.dsn(name),
            nats_url=nats_url,
            pricing_target=pricing_address,
        )
        async with serving(orders_bootstrap(settings, clock=clock)) as address:
            yield ServedOrders(address, pricing_address, settings, clock, pricing)
