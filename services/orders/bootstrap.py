"""The one place where orders is wired; tests pass fakes for any keyword."""

from __future__ import annotations

from pathlib import Path

from lastmile.orders.v1 import (
    orders_internal_pb2,
    orders_internal_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)
from services.orders.adapters.grpc_pricing import IDEMPOTENT_METHODS, GrpcPricing
from services.orders.adapters.postgres_unit_of_work import PostgresUnitOfWork
from services.orders.adapters.pricing_quote_keys import PricingQuoteKeys
from services.orders.adapters.signed_quotes import SignedQuotes
from services.orders.config import OrdersSettings
from services.orders.entrypoints.grpc_servicers import OrdersInternalServicer, OrdersServicer
from services.orders.service_layer.bulk_import import DeliveryImport
from services.orders.service_layer.creation import DeliveryCreation
from services.orders.service_layer.ports import Clock, Pricing, UnitOfWork, UnitOfWorkFactory
from services.orders.service_layer.queries import DeliveryQueries
from services.orders.service_layer.transitions import DeliveryTransitions
from services.runtime.channels import ChannelPool, RetryPolicy
from services.runtime.clock import system_clock
from services.runtime.database import Database, migrate
from services.runtime.dependencies import DATABASE
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.events.outbox import OutboxRelay
from services.runtime.page_tokens import PageTokens
from services.runtime.server import Hook, ServiceBinding, ServiceHost
from services.shared_kernel.regions import load_regions

MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(
    settings: OrdersSettings,
    *,
    unit_of_work: UnitOfWorkFactory | None = None,
    pricing: Pricing | None = None,
    clock: Clock = system_clock,
) -> ServiceHost:
    """With no `unit_of_work`, orders runs on PostgreSQL (migrated on start if so
    configured) and relays its outbox to NATS for as long as it serves."""
    on_start: list[Hook] = []
    on_shutdown: list[Hook] = []
    # Both services need the database; NATS only delays the outbox, so it is not watched.
    dependencies = DependencyMonitor()
    if unit_of_work is None:
        unit_of_work = _postgres(settings, on_start, on_shutdown, dependencies)
    if pricing is None:
        channels = ChannelPool(
            default_timeout=settings.pricing_deadline_seconds,
            retry=RetryPolicy(idempotent_methods=IDEMPOTENT_METHODS),
        )
        channel = channels.channel(settings.pricing_target)
        quote_keys = PricingQuoteKeys(
            channel,
            deadline_seconds=settings.pricing_deadline_seconds,
            refresh_seconds=settings.quote_keys_refresh_seconds,
            min_refresh_seconds=settings.quote_keys_min_refresh_seconds,
        )
        pricing = GrpcPricing(
            channel,
            deadline_seconds=settings.pricing_deadline_seconds,
            signed_quotes=SignedQuotes(quote_keys, clock),
        )
        # The first fetch runs in the background: orders serves creates without a quote
        # while pricing starts, and one with a quote fetches the keys itself.
        on_start.append(quote_keys.start)
        # Hooks run in reverse: the refresh stops before the channel it uses closes.
        on_shutdown[:0] = [channels.close, quote_keys.stop]
    creation = DeliveryCreation(
        unit_of_work, pricing, clock, regions=load_regions(settings.regions_file)
    )
    transitions = DeliveryTransitions(unit_of_work, clock)
    public = OrdersServicer(
        creation,
        DeliveryImport(creation, concurrency=settings.import_concurrency),
        DeliveryQueries(
            unit_of_work, PageTokens(settings.page_token_key.get_secret_value().encode())
        ),
        transitions,
        error_domain=f"{settings.service_name}.lastmile.dev",
    )
    return ServiceHost(
        settings,
        bindings=[
            ServiceBinding(
                orders_pb2.DESCRIPTOR.services_by_name["OrdersService"].full_name,
                public,
                orders_pb2_grpc.add_OrdersServiceServicer_to_server,
                # A bad item gets its own ImportError in the summary; the import goes on.
                per_message_methods=frozenset({"ImportDeliveries"}),
            ),
            ServiceBinding(
                orders_internal_pb2.DESCRIPTOR.services_by_name["OrdersInternalService"].full_name,
                OrdersInternalServicer(transitions),
                orders_internal_pb2_grpc.add_OrdersInternalServiceServicer_to_server,
            ),
        ],
        on_start=on_start,
        on_shutdown=on_shutdown,
        dependencies=dependencies,
    )


def _postgres(
    settings: OrdersSettings,
    on_start: list[Hook],
    on_shutdown: list[Hook],
    dependencies: DependencyMonitor,
) -> UnitOfWorkFactory:
    database = Database(settings.database_url, max_size=settings.database_pool_size)
    dependencies.watch(DATABASE, database.ping)
    relay = OutboxRelay(database, settings.nats_url, service=settings.service_name)

    async def migrate_database() -> None:
        await migrate(settings.database_url, MIGRATIONS)

    async def start_relay() -> None:
        relay.start()

    if settings.migrate_on_start:
        on_start.append(migrate_database)
    on_start += [database.connect, start_relay]
    # Run in reverse: the relay stops before the pool it reads from closes.
    on_shutdown += [database.close, relay.stop]

    def unit_of_work() -> UnitOfWork:
        return PostgresUnitOfWork(database)

    return unit_of_work
