"""The one place where fleet is wired; tests pass fakes for any keyword."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from lastmile.fleet.v1 import (
    courier_session_pb2,
    courier_session_pb2_grpc,
    fleet_internal_pb2,
    fleet_internal_pb2_grpc,
)
from services.fleet.adapters.dispatch_inbound import DispatchInbound
from services.fleet.adapters.dispatch_link import DispatchLink
from services.fleet.adapters.grpc_orders import IDEMPOTENT_METHODS, GrpcOrders
from services.fleet.adapters.nats_positions import NatsPositions
from services.fleet.adapters.postgres_couriers import PostgresCouriers
from services.fleet.config import FleetSettings
from services.fleet.domain.values import ns_of_datetime
from services.fleet.entrypoints.internal_servicer import FleetInternalServicer
from services.fleet.entrypoints.session_servicer import CourierSessionServicer
from services.fleet.service_layer.background_tasks import BackgroundTasks
from services.fleet.service_layer.courier_inbox import CourierInbox
from services.fleet.service_layer.dispatch_decisions import DispatchDecisions
from services.fleet.service_layer.ledger import CourierLedger
from services.fleet.service_layer.offers import OfferDesk
from services.fleet.service_layer.ports import Clock, CourierStore, Orders, PositionPublisher
from services.fleet.service_layer.positions import PositionRelay
from services.fleet.service_layer.queries import CourierQueries
from services.fleet.service_layer.roster import Roster
from services.fleet.service_layer.session_watch import SessionWatch
from services.fleet.service_layer.sessions import SessionDesk, SessionPolicy
from services.runtime.channels import ChannelPool, RetryPolicy
from services.runtime.clock import system_clock
from services.runtime.database import Database, migrate
from services.runtime.dependencies import DATABASE
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.draining import Drain
from services.runtime.events.outbox import OutboxRelay
from services.runtime.server import Hook, ServiceBinding, ServiceHost

MIGRATIONS = Path(__file__).parent / "migrations"


def bootstrap(
    settings: FleetSettings,
    *,
    store: CourierStore | None = None,
    orders: Orders | None = None,
    positions: PositionPublisher | None = None,
    clock: Clock = system_clock,
) -> ServiceHost:
    """With no `store`, fleet runs on PostgreSQL and relays its outbox to NATS; with no
    `orders`, it calls orders at `orders_target`; with no `positions`, it publishes them
    to NATS. The Link to `dispatch_targets` runs for as long as fleet serves."""
    on_start: list[Hook] = []
    on_shutdown: list[Hook] = []
    # Sessions and queries need the database; NATS carries only the outbox and positions
    # for tracking, which wait or are dropped while it is away, so it is not watched.
    dependencies = DependencyMonitor()
    if store is None:
        store = _postgres(settings, on_start, on_shutdown, dependencies)
    channels = ChannelPool(
        default_timeout=settings.orders_deadline_seconds,
        retry=RetryPolicy(idempotent_methods=IDEMPOTENT_METHODS),
    )
    on_shutdown.insert(0, channels.close)
    if orders is None:
        orders = GrpcOrders(
            channels.channel(settings.orders_target),
            deadline_seconds=settings.orders_deadline_seconds,
        )
    if positions is None:
        publisher = NatsPositions(settings.nats_url, name=f"fleet-{settings.replica_id}")
        on_start.append(publisher.start)
        on_shutdown.append(publisher.stop)
        positions = publisher
    link = DispatchLink(
        channels,
        settings.dispatch_target_list,
        replica_id=settings.replica_id,
        queue_size=settings.link_queue_size,
    )
    roster, tasks, drain = Roster(), BackgroundTasks(), Drain()
    ledger = CourierLedger(store, roster, link)
    offers = OfferDesk(roster, ledger, link, tasks, clock)
    decisions = DispatchDecisions(roster, ledger, offers, tasks, clock)
    link.bind(snapshot=roster.reported, inbound=DispatchInbound(decisions))
    relay = PositionRelay(
        roster,
        link,
        positions,
        dispatch_flush_seconds=settings.position_flush_seconds,
        tracking_seconds=settings.position_publish_seconds,
    )
    sessions = SessionDesk(roster, ledger, store, offers, tasks, clock, _policy(settings), drain)
    watch = SessionWatch(
        sessions,
        roster,
        store,
        tasks,
        clock,
        drain,
        drain_spread_seconds=settings.drain_reconnect_spread_seconds,
    )
    inbox = CourierInbox(
        roster,
        ledger,
        offers,
        relay,
        orders,
        clock,
        recent_answers=settings.recent_answers_per_courier,
    )

    async def start_background() -> None:
        relay.start()
        watch.start()

    on_start += [link.start, start_background]
    # Shutdown hooks run in reverse: the drain's writes finish, then the Link and the
    # publishers stop, before the database and channels close.
    on_shutdown += [link.stop, relay.stop, tasks.cancel_all, watch.stop]
    error_domain = f"{settings.service_name}.lastmile.dev"
    return ServiceHost(
        settings,
        bindings=[
            ServiceBinding(
                courier_session_pb2.DESCRIPTOR.services_by_name["CourierSessionService"].full_name,
                CourierSessionServicer(
                    sessions, inbox, _nanosecond_clock(clock), error_domain=error_domain
                ),
                courier_session_pb2_grpc.add_CourierSessionServiceServicer_to_server,
                untraced_methods=frozenset({"Connect"}),
                # A bad message gets its own MessageError; the session goes on.
                per_message_methods=frozenset({"Connect"}),
            ),
            ServiceBinding(
                fleet_internal_pb2.DESCRIPTOR.services_by_name["FleetInternalService"].full_name,
                FleetInternalServicer(CourierQueries(roster, store)),
                fleet_internal_pb2_grpc.add_FleetInternalServiceServicer_to_server,
            ),
        ],
        on_start=on_start,
        on_shutdown=on_shutdown,
        drain=drain,
        dependencies=dependencies,
    )


def _nanosecond_clock(clock: Clock) -> Callable[[], int]:
    """`clock` in nanoseconds since the Unix epoch: the system's own without a datetime."""
    if clock is system_clock:
        return time.time_ns
    return lambda: ns_of_datetime(clock())


def _policy(settings: FleetSettings) -> SessionPolicy:
    return SessionPolicy(
        heartbeat_interval_seconds=settings.heartbeat_interval_seconds,
        heartbeat_timeout_seconds=settings.heartbeat_timeout_seconds,
        resume_grace_seconds=settings.resume_grace_seconds,
        queue_size=settings.session_queue_size,
        messages_per_second=settings.messages_per_second,
        message_burst=settings.message_burst,
        slow_consumer_seconds=settings.slow_consumer_seconds,
    )


def _postgres(
    settings: FleetSettings,
    on_start: list[Hook],
    on_shutdown: list[Hook],
    dependencies: DependencyMonitor,
) -> CourierStore:
    database = Database(settings.database_url, max_size=settings.database_pool_size)
    dependencies.watch(DATABASE, database.ping)
    outbox_relay = OutboxRelay(database, settings.nats_url, service=settings.service_name)

    async def migrate_database() -> None:
        await migrate(settings.database_url, MIGRATIONS)

    async def start_relay() -> None:
        outbox_relay.start()

    if settings.migrate_on_start:
        on_start.append(migrate_database)
    on_start += [database.connect, start_relay]
    # Run in reverse: the relay stops before the pool it reads from closes.
    on_shutdown += [database.close, outbox_relay.stop]
    return PostgresCouriers(database)
