"""The components of the local mesh, in start order, with their ports and settings.

Each service gets its settings through the same LASTMILE_<SERVICE>_* variables it reads
in production; only the values differ (loopback addresses, the local state dir).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ports:
    """Every port the local stack listens on; each can be moved with a flag or variable."""

    edge: int = 8080
    edge_admin: int = 9901
    postgres: int = 55432
    nats: int = 4222
    nats_monitor: int = 8222
    identity: int = 50050
    pricing: int = 50051
    orders: int = 50052
    fleet: int = 50053
    dispatch: int = 50054
    tracking: int = 50055
    identity_admin: int = 9450
    pricing_admin: int = 9451
    orders_admin: int = 9452
    fleet_admin: int = 9453
    dispatch_admin: int = 9454
    tracking_admin: int = 9455

    def grpc(self, service: str) -> int:
        port: int = getattr(self, service)
        return port

    def admin(self, service: str) -> int:
        port: int = getattr(self, f"{service}_admin")
        return port


@dataclass(frozen=True)
class ServiceSpec:
    """One Lastmile service process: `python -m services.<name>`."""

    name: str
    health_service: str  # the proto service whose health gates the start of dependants
    database: bool = False
    broker: bool = False
    upstreams: tuple[str, ...] = ()  # services it calls; started before it
    extra_env: dict[str, str] = field(default_factory=dict)
    # Settings that name an upstream differently from `<UPSTREAM>_TARGET`.
    target_settings: dict[str, str] = field(default_factory=dict)

    def target_variable(self, upstream: str) -> str:
        """The setting (without prefix) that holds the address of `upstream`."""
        return self.target_settings.get(upstream, f"{upstream.upper()}_TARGET")

    def env(self, ports: Ports, postgres_dsn: str | None, nats_url: str) -> dict[str, str]:
        prefix = f"LASTMILE_{self.name.upper()}_"
        values = {
            "GRPC_HOST": "127.0.0.1",
            "GRPC_PORT": str(ports.grpc(self.name)),
            "ADMIN_PORT": str(ports.admin(self.name)),
            "SHUTDOWN_GRACE_SECONDS": "5",
            **self.extra_env,
        }
        if self.database and postgres_dsn:
            values["DATABASE_URL"] = postgres_dsn
        if self.broker:
            values["NATS_URL"] = nats_url
        for upstream in self.upstreams:
            values[self.target_variable(upstream)] = f"127.0.0.1:{ports.grpc(upstream)}"
        return {prefix + key: value for key, value in values.items()}


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("pricing", "lastmile.pricing.v1.PricingService"),
    ServiceSpec("identity", "lastmile.identity.v1.IdentityService", database=True),
    ServiceSpec(
        "orders",
        "lastmile.orders.v1.OrdersService",
        database=True,
        broker=True,
        upstreams=("pricing",),
    ),
    ServiceSpec(
        "tracking", "lastmile.tracking.v1.TrackingService", broker=True, upstreams=("orders",)
    ),
    # dispatch reports SERVING only once it holds the matcher lock, so fleet's Link and
    # the edge find a leader when they start.
    ServiceSpec(
        "dispatch",
        "lastmile.dispatch.v1.DispatchInternalService",
        database=True,
        broker=True,
        upstreams=("orders",),
    ),
    ServiceSpec(
        "fleet",
        "lastmile.fleet.v1.CourierSessionService",
        database=True,
        broker=True,
        upstreams=("orders", "dispatch"),
        # fleet takes a list: it rotates through dispatch replicas to find the leader.
        target_settings={"dispatch": "DISPATCH_TARGETS"},
    ),
)
