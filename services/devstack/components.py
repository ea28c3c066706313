"""The components of the local mesh, in start order, with their ports and settings.

Each service gets its settings through the same LASTMILE_<SERVICE>_* variables it reads
in production; only the values differ (loopback addresses, the local state dir).

Replicas (`make run REPLICAS=orders=2,pricing=2`): each service runs as one or more
processes. Replica 0 is named after the service and keeps its ports; replica k (k >= 1) is
`<service>-k` and listens on the service's gRPC and admin ports plus k x the replica port
step (default 100: orders-1 on 50152 with /metrics on 9552). Callers are given every
replica's address (`Replicas.target`), so that their channels balance per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.devstack.errors import DevstackError

REPLICAS_VARIABLE = "LASTMILE_REPLICAS"
REPLICA_PORT_STEP_VARIABLE = "LASTMILE_REPLICA_PORT_STEP"
DEFAULT_REPLICA_PORT_STEP = 100
# Ten replicas keep every port inside its documented block (sidecar blocks included).
MAX_REPLICAS = 10


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
class Replicas:
    """How many processes each service runs, and where replica k of a service listens: on
    the service's ports (Ports) plus k x `port_step`."""

    counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    port_step: int = DEFAULT_REPLICA_PORT_STEP

    def __post_init__(self) -> None:
        known = {spec.name for spec in SERVICES}
        for service, count in self.counts.items():
            if service not in known:
                raise DevstackError(
                    f"replicas: no service named {service!r} (one of {', '.join(sorted(known))})"
                )
            if not 1 <= count <= MAX_REPLICAS:
                raise DevstackError(
                    f"replicas: {service}={count} is not between 1 and {MAX_REPLICAS}"
                )
        if self.port_step < 1:
            raise DevstackError(f"replica port step {self.port_step} is not a positive number")

    @classmethod
    def parse(cls, text: str, port_step: int = DEFAULT_REPLICA_PORT_STEP) -> Replicas:
        """`orders=2,pricing=2` (an empty text: one process of each)."""
        counts: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            service, equals, count = item.partition("=")
            if not equals or not count.strip().isdigit():
                raise DevstackError(
                    f"replicas: {item!r} is not <service>=<count> (e.g. orders=2,pricing=2)"
                )
            counts[service.strip()] = int(count)
        return cls(MappingProxyType(counts), port_step)

    def count(self, service: str) -> int:
        return self.counts.get(service, 1)

    def grpc_port(self, ports: Ports, service: str, replica: int = 0) -> int:
        return ports.grpc(service) + replica * self.port_step

    def admin_port(self, ports: Ports, service: str, replica: int = 0) -> int:
        return ports.admin(service) + replica * self.port_step

    def grpc_ports(self, ports: Ports, service: str) -> list[int]:
        """The gRPC port of every replica of `service`, replica 0 first."""
        return [self.grpc_port(ports, service, k) for k in range(self.count(service))]

    def target(self, ports: Ports, service: str) -> str:
        """A gRPC target naming every replica: `127.0.0.1:P` for one, else the ipv4 resolver's
        address list `ipv4:127.0.0.1:P0,127.0.0.1:P1`, which round_robin balances per call."""
        addresses = [f"127.0.0.1:{port}" for port in self.grpc_ports(ports, service)]
        return addresses[0] if len(addresses) == 1 else "ipv4:" + ",".join(addresses)

    def __str__(self) -> str:
        listed = [f"{name}={count}" for name, count in self.counts.items() if count > 1]
        return ",".join(listed) or "one process per service"


def replica_name(service: str, replica: int) -> str:
    """The component name of a replica: `orders` for replica 0, `orders-1`, `orders-2` ..."""
    return service if replica == 0 else f"{service}-{replica}"


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
    # Upstreams whose setting is a comma-separated host:port list the service walks itself
    # (fleet looks for dispatch's leader) rather than one balanced gRPC target.
    listed_upstreams: tuple[str, ...] = ()
    # Whether the service has a `REPLICA_ID` setting (its identity among its replicas).
    replica_id: bool = False
    # With several replicas, what gates each one's start instead of `health_service` when
    # only one of them can be SERVING it (dispatch's leader): the server's overall status.
    standby_health_service: str | None = None
    # Whether the service reads the service regions file (`REGIONS_FILE`).
    regions: bool = False

    def health_gate(self, replicas: Replicas) -> str:
        """The proto service whose SERVING status says a replica of this service is up."""
        if self.standby_health_service is not None and replicas.count(self.name) > 1:
            return self.standby_health_service
        return self.health_service

    def target_variable(self, upstream: str) -> str:
        """The setting (without prefix) that holds the address of `upstream`."""
        return self.target_settings.get(upstream, f"{upstream.upper()}_TARGET")

    def env(
        self,
        ports: Ports,
        postgres_dsn: str | None,
        nats_url: str,
        *,
        replicas: Replicas | None = None,
        replica: int = 0,
    ) -> dict[str, str]:
        """Replica `replica`'s settings (replicas None: one process of each service). Every
        replica gets the same secrets (the launcher's environment, or the development
        defaults): what one signs, the others verify."""
        replicas = replicas or Replicas()
        prefix = f"LASTMILE_{self.name.upper()}_"
        values = {
            "GRPC_HOST": "127.0.0.1",
            "GRPC_PORT": str(replicas.grpc_port(ports, self.name, replica)),
            "ADMIN_PORT": str(replicas.admin_port(ports, self.name, replica)),
            "SHUTDOWN_GRACE_SECONDS": "5",
            **self.extra_env,
        }
        if self.replica_id and replicas.count(self.name) > 1:
            values["REPLICA_ID"] = replica_name(self.name, replica)
        if self.database and postgres_dsn:
            values["DATABASE_URL"] = postgres_dsn
        if self.broker:
            values["NATS_URL"] = nats_url
        for upstream in self.upstreams:
            if upstream in self.listed_upstreams:
                ports_of = replicas.grpc_ports(ports, upstream)
                target = ",".join(f"127.0.0.1:{port}" for port in ports_of)
            else:
                target = replicas.target(ports, upstream)
            values[self.target_variable(upstream)] = target
        return {prefix + key: value for key, value in values.items()}


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("pricing", "lastmile.pricing.v1.PricingService", regions=True),
    ServiceSpec("identity", "lastmile.identity.v1.IdentityService", database=True),
    ServiceSpec(
        "orders",
        "lastmile.orders.v1.OrdersService",
        database=True,
        broker=True,
        upstreams=("pricing",),
        regions=True,
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
        replica_id=True,
        # A standby is up (and takes over when the leader goes) while NOT_SERVING its
        # services; any replica may be the standby after a restart.
        standby_health_service="",
    ),
    ServiceSpec(
        "fleet",
        "lastmile.fleet.v1.CourierSessionService",
        database=True,
        broker=True,
        upstreams=("orders", "dispatch"),
        # fleet takes a list: it rotates through dispatch replicas to find the leader.
        target_settings={"dispatch": "DISPATCH_TARGETS"},
        listed_upstreams=("dispatch",),
        replica_id=True,
    ),
)
