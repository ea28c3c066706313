"""The one place where dispatch is wired; tests pass fakes for any keyword."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from lastmile.dispatch.v1 import (
    dispatch_internal_pb2,
    dispatch_internal_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
)
from services.dispatch.adapters.grpc_orders import IDEMPOTENT_METHODS, GrpcOrders
from services.dispatch.adapters.health_status import HealthStatus
from services.dispatch.adapters.nats_feed import NatsDeliveryFeed
from services.dispatch.adapters.postgres_intake import CommitHookDatabase
from services.dispatch.adapters.postgres_leadership import PostgresLeaderLock
from services.dispatch.config import DispatchSettings
from services.dispatch.domain.offers import OfferTerms
from services.dispatch.entrypoints.delivery_event_handler import DeliveryEventHandler
from services.dispatch.entrypoints.link_servicer import DispatchInternalServicer
from services.dispatch.entrypoints.matcher_host import MatcherHost
from services.dispatch.entrypoints.ops_servicer import DispatchServicer
from services.dispatch.service_layer.intake import DeliveryIntake
from services.dispatch.service_layer.leadership import Campaign
from services.dispatch.service_layer.link_sessions import LinkRegistry
from services.dispatch.service_layer.matcher import Matcher
from services.dispatch.service_layer.overview import DispatchViews
from services.dispatch.service_layer.ports import LeaderLock, Orders
from services.dispatch.service_layer.region_shell import MatchingPolicy
from services.runtime.channels import ChannelPool, RetryPolicy
from services.runtime.clock import system_clock
from services.runtime.database import migrate
from services.runtime.dependencies import DATABASE
from services.runtime.page_tokens import PageTokens
from services.runtime.server import Hook, ServiceBinding, ServiceHost

MIGRATIONS = Path(__file__).parent / "migrations"
INTERNAL = dispatch_internal_pb2.DESCRIPTOR.services_by_name["DispatchInternalService"].full_name
PUBLIC = dispatch_pb2.DESCRIPTOR.services_by_name["DispatchService"].full_name


def policy_of(settings: DispatchSettings) -> MatchingPolicy:
    return MatchingPolicy(
        offer_terms=OfferTerms(
            ttl=timedelta(seconds=settings.offer_ttl_seconds),
            grace=timedelta(seconds=settings.offer_grace_seconds),
            payout_percent=settings.payout_percent,
            road_factor=settings.road_factor,
        ),
        max_pickup_meters=settings.max_pickup_distance_meters,
        sweep_seconds=settings.sweep_seconds,
        link_queue_size=settings.link_queue_size,
    )


def bootstrap(
    settings: DispatchSettings,
    *,
    orders: Orders | None = None,
    lock: LeaderLock | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> ServiceHost:
    """dispatch on PostgreSQL (queue, inbox, leader lock) and NATS, assigning through
    orders at `orders_target` unless fakes are given."""
    database = CommitHookDatabase(settings.database_url, max_size=settings.database_pool_size)
    on_start: list[Hook] = []
    on_shutdown: list[Hook] = [database.close]
    if settings.migrate_on_start:

        async def migrate_database() -> None:
            await migrate(settings.database_url, MIGRATIONS)

        on_start.append(migrate_database)
    on_start.append(database.connect)
    if orders is None:
        channels = ChannelPool(
            default_timeout=settings.orders_deadline_seconds,
            retry=RetryPolicy(idempotent_methods=IDEMPOTENT_METHODS),
        )
        orders = GrpcOrders(
            channels.channel(settings.orders_target),
            deadline_seconds=settings.orders_deadline_seconds,
        )
        on_shutdown.append(channels.close)
    bindings: list[ServiceBinding] = []
    host = MatcherHost(settings, bindings, on_start=on_start, on_shutdown=on_shutdown)
    # The queue, the inbox and the leader lock live in the database. Without NATS no new
    # deliveries arrive, but the Link and the ops views still serve: it is not watched.
    host.dependencies.watch(DATABASE, database.ping)
    links = LinkRegistry()
    # The consumer's handler reaches the matcher's current shell, resolved per event.
    handler = DeliveryEventHandler(DeliveryIntake(lambda: matcher.shell(), clock))
    matcher = Matcher(
        replica_id=settings.replica_id,
        links=links,
        orders=orders,
        feed=NatsDeliveryFeed(database, settings.nats_url, settings.consumer_name, handler),
        health=HealthStatus(host.readiness, [INTERNAL, PUBLIC]),
        policy=policy_of(settings),
        clock=clock,
    )
    if lock is None:
        lock = PostgresLeaderLock(
            settings.database_url, heartbeat_seconds=settings.leader_poll_seconds
        )
    host.campaign = Campaign(lock, matcher, poll_seconds=settings.leader_poll_seconds)
    # Shutdown hooks run in reverse: step down first, then close channels and the pool.
    on_shutdown.append(host.campaign.stop)
    tokens = PageTokens(settings.page_token_key.get_secret_value().encode())
    bindings += [
        ServiceBinding(
            INTERNAL,
            DispatchInternalServicer(matcher, host.drain),
            dispatch_internal_pb2_grpc.add_DispatchInternalServiceServicer_to_server,
            serving_at_start=False,
            untraced_methods=frozenset({"Link"}),
        ),
        ServiceBinding(
            PUBLIC,
            DispatchServicer(DispatchViews(matcher), tokens, clock),
            dispatch_pb2_grpc.add_DispatchServiceServicer_to_server,
            serving_at_start=False,
        ),
    ]
    return host
