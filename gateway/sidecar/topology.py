"""The mesh graph, in one place: the workloads and their ports, who calls whom (which proto
services or methods), which unary methods are idempotent (`gateway.idempotency`), and the
Kubernetes port convention.

Method lists, and which methods stream, come from the descriptor set; a call naming a service
or method that the contract does not have fails loudly instead of rendering a dead route.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.edge.settings import DESCRIPTOR_SET
from gateway.idempotency import IDEMPOTENT_METHODS
from gateway.proto_catalog import ProtoCatalog

EDGE = "edge"
# name -> canonical gRPC port: the pod/Service port, served by the sidecar's mTLS listener.
CANONICAL_PORTS = {
    "identity": 50050,
    "pricing": 50051,
    "orders": 50052,
    "fleet": 50053,
    "dispatch": 50054,
    "tracking": 50055,
}
SERVICES = tuple(CANONICAL_PORTS)
# The app listens on loopback this far above its canonical port (pricing: 127.0.0.1:51051).
APP_PORT_SHIFT = 1000
# Sidecar ports in every pod (Istio's numbers where Istio has one).
ADMIN_PORT = 15000
HEALTH_PORT = 15021
STATS_PORT = 15090
_OUTBOUND_BASE = 15000


def app_port(service: str) -> int:
    return CANONICAL_PORTS[service] + APP_PORT_SHIFT


def outbound_port(callee: str) -> int:
    """The loopback port of the listener that reaches `callee`, the same in every pod."""
    return _OUTBOUND_BASE + CANONICAL_PORTS[callee] - 50000


@dataclass(frozen=True)
class Call:
    """`caller` calls `service` on `callee`: every method of it, or only `methods`."""

    caller: str
    callee: str
    service: str
    methods: tuple[str, ...] = ()


def _package(service: str) -> str:
    return f"lastmile.{service}.v1"


CALLS: tuple[Call, ...] = (
    *(
        Call(EDGE, callee, f"{_package(callee)}.{public}")
        for callee, public in (
            ("identity", "IdentityService"),
            ("pricing", "PricingService"),
            ("orders", "OrdersService"),
            ("fleet", "CourierSessionService"),
            ("dispatch", "DispatchService"),
            ("tracking", "TrackingService"),
        )
    ),
    Call("orders", "pricing", "lastmile.pricing.v1.PricingService", ("CreateQuote",)),
    # orders verifies quotes with pricing's public keys. VerifyQuote (deprecated) stays
    # granted while orders replicas of the previous release may still call it in a rollout.
    Call(
        "orders",
        "pricing",
        "lastmile.pricing.v1.PricingInternalService",
        ("ListQuoteKeys", "VerifyQuote"),
    ),
    # With the watcher's forwarded identity headers: orders decides who may watch.
    Call("tracking", "orders", "lastmile.orders.v1.OrdersService", ("GetDelivery",)),
    Call(
        "fleet",
        "orders",
        "lastmile.orders.v1.OrdersInternalService",
        ("MarkPickedUp", "MarkDelivered"),
    ),
    Call("dispatch", "orders", "lastmile.orders.v1.OrdersInternalService", ("AssignCourier",)),
    Call("fleet", "dispatch", "lastmile.dispatch.v1.DispatchInternalService", ("Link",)),
    # A courier's status and last position: tracking when a watch starts, dispatch on demand.
    Call("tracking", "fleet", "lastmile.fleet.v1.FleetInternalService", ("GetCourier",)),
    Call("dispatch", "fleet", "lastmile.fleet.v1.FleetInternalService", ("GetCourier",)),
)


@dataclass(frozen=True)
class Method:
    """One RPC as the sidecars route it."""

    service: str
    name: str
    streaming: bool
    idempotent: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


@dataclass(frozen=True)
class Grant:
    """Who may call a service (`method` empty) or one method of it, on the callee's sidecar."""

    service: str
    method: str
    callers: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.service}/{self.method}" if self.method else self.service


class MeshTopology:
    """`CALLS` resolved against the contract: the routes and RBAC grants of each sidecar."""

    def __init__(
        self,
        catalog: ProtoCatalog,
        calls: tuple[Call, ...] = CALLS,
        idempotent: frozenset[str] = IDEMPOTENT_METHODS,
    ) -> None:
        self.calls = calls
        self._methods: dict[str, tuple[Method, ...]] = {}
        for call in calls:
            if call.service not in catalog.services:
                raise ValueError(f"{call.caller} calls {call.service}, which no proto defines")
            known = {method.name: method for method in catalog.services[call.service].method}
            if unknown := sorted(set(call.methods) - set(known)):
                raise ValueError(f"{call.caller} calls {call.service}/{unknown}: no such methods")
            self._methods[call.service] = tuple(
                Method(
                    call.service,
                    name,
                    method.client_streaming or method.server_streaming,
                    f"{call.service}/{name}" in idempotent,
                )
                for name, method in known.items()
            )

    @classmethod
    def load(cls, descriptor_set: Path = DESCRIPTOR_SET) -> MeshTopology:
        return cls(ProtoCatalog.from_descriptor_set(descriptor_set.read_bytes()))

    def callees(self, caller: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.callee for c in self.calls if c.caller == caller))

    def methods_called(self, caller: str, callee: str) -> tuple[Method, ...]:
        """Every method `caller` may call on `callee`, in call order."""
        methods: list[Method] = []
        for call in self.calls:
            if (call.caller, call.callee) == (caller, callee):
                wanted = call.methods or tuple(m.name for m in self._methods[call.service])
                methods += [m for m in self._methods[call.service] if m.name in wanted]
        return tuple(dict.fromkeys(methods))

    def served_methods(self, callee: str) -> tuple[Method, ...]:
        """Every method of the services that anyone calls on `callee`."""
        services = dict.fromkeys(c.service for c in self.calls if c.callee == callee)
        return tuple(method for service in services for method in self._methods[service])

    def health_service(self, caller: str, callee: str) -> str:
        """The proto service whose status `caller` health-checks: the first one it calls."""
        return next(c.service for c in self.calls if (c.caller, c.callee) == (caller, callee))

    def grants(self, callee: str) -> tuple[Grant, ...]:
        """The RBAC allow-list of `callee`'s inbound listener, derived from the calls."""
        callers: dict[tuple[str, str], list[str]] = {}
        for call in self.calls:
            if call.callee != callee:
                continue
            for method in call.methods or ("",):
                callers.setdefault((call.service, method), []).append(call.caller)
        return tuple(
            Grant(service, method, tuple(sorted(set(names))))
            for (service, method), names in callers.items()
        )
