"""The one place where tracking is wired; tests pass fakes for any keyword."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lastmile.tracking.v1 import tracking_pb2, tracking_pb2_grpc
from services.runtime.channels import ChannelPool, RetryPolicy
from services.runtime.clock import system_clock
from services.runtime.dependencies import BROKER
from services.runtime.dependency_monitor import DependencyMonitor
from services.runtime.draining import Drain
from services.runtime.server import Hook, ServiceBinding, ServiceHost
from services.tracking.adapters.grpc_orders import IDEMPOTENT_METHODS, GrpcOrders
from services.tracking.adapters.nats_events import NatsEventSource
from services.tracking.config import TrackingSettings
from services.tracking.entrypoints.grpc_servicers import TrackingServicer
from services.tracking.service_layer.hub import DeliveryHubs
from services.tracking.service_layer.ports import DeliveryLookup, EventSource
from services.tracking.service_layer.watch import DeliveryWatch


def bootstrap(
    settings: TrackingSettings,
    *,
    events: EventSource | None = None,
    deliveries: DeliveryLookup | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> ServiceHost:
    """With no `events`, tracking reads NATS JetStream (connected on start); with no
    `deliveries`, it asks orders at `orders_target`."""
    on_start: list[Hook] = []
    on_shutdown: list[Hook] = []
    dependencies = DependencyMonitor()
    if events is None:
        broker_feed = NatsEventSource(settings.nats_url, name=settings.service_name)
        # Watches follow the broker: without it, they would miss every change.
        dependencies.watch(BROKER, broker_feed.ping)
        on_start.append(broker_feed.start)
        on_shutdown.append(broker_feed.stop)
        events = broker_feed
    if deliveries is None:
        channels = ChannelPool(
            default_timeout=settings.orders_deadline_seconds,
            retry=RetryPolicy(idempotent_methods=IDEMPOTENT_METHODS),
        )
        deliveries = GrpcOrders(
            channels.channel(settings.orders_target),
            deadline_seconds=settings.orders_deadline_seconds,
        )
        on_shutdown.insert(0, channels.close)
    hubs = DeliveryHubs(events, queue_capacity=settings.watcher_queue_size)
    # Shutdown hooks run in reverse: hubs let go of their subscriptions before the
    # broker connection closes.
    on_shutdown.append(hubs.close)
    drain = Drain()
    watch = DeliveryWatch(hubs, deliveries, heartbeat_seconds=settings.heartbeat_seconds)
    return ServiceHost(
        settings,
        bindings=[
            ServiceBinding(
                tracking_pb2.DESCRIPTOR.services_by_name["TrackingService"].full_name,
                TrackingServicer(watch, drain, clock),
                tracking_pb2_grpc.add_TrackingServiceServicer_to_server,
            )
        ],
        on_start=on_start,
        on_shutdown=on_shutdown,
        drain=drain,
        dependencies=dependencies,
    )
