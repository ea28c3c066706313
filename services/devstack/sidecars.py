"""`make run MESH=sidecars`: the Kubernetes topology on one machine. Each service listens on a
loopback port of its own, its Envoy sidecar (the same template as in the cluster, `local`
variant) takes the service's usual port with mTLS, services call each other through their
sidecar's outbound listeners, and the edge presents its own certificate to the sidecars.

The launcher asks this module four things in sidecar mode: which extra ports must be free,
to make the certificates, to start a service's sidecar before the service (`start_sidecar`,
which says where the app must then listen and be health-checked), and the edge's mTLS.

With replicas, every replica is a pod of its own: its own sidecar (`orders-1-sidecar`, on
the replica's usual port) and port block, and each sidecar's outbound cluster to a callee
lists the inbound address of every replica's sidecar of that callee."""

from __future__ import annotations

import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from gateway.edge import UpstreamMtls
from gateway.sidecar import topology
from gateway.sidecar.certs import ensure_workload_certs
from gateway.sidecar.placement import (
    DEFAULT_LOCAL_PORT_BASE,
    LOOPBACK,
    LocalLayout,
    Placement,
    local_placement,
)
from gateway.sidecar.render import write_sidecar_config
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import EDGE, MeshTopology
from services.devstack.components import Ports, Replicas, ServiceSpec, replica_name
from services.devstack.errors import DevstackError


class MeshMode(StrEnum):
    """How the local services reach each other."""

    DIRECT = "direct"  # plaintext, straight to each other's port
    SIDECARS = "sidecars"  # through Envoy sidecars with mTLS and RBAC, as in Kubernetes


class EnvoyStarter(Protocol):
    """How the launcher runs an Envoy: supervised, stopped with the mesh, gated on /ready."""

    def __call__(
        self, name: str, config: Path, address: str, admin_port: int, *, concurrency: int = 2
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class SidecarRoute:
    """Where a service runs behind its sidecar: the app's own address, where its health is
    checked (the sidecar's plaintext health listener, so the path is checked too), and the
    settings that put it there (`spec.env` overrides)."""

    app_address: str
    health_address: str
    env: dict[str, str]


def default_port_base() -> int:
    return int(os.environ.get("LASTMILE_SIDECAR_PORT_BASE", DEFAULT_LOCAL_PORT_BASE))


@dataclass
class LocalSidecars:
    """Certificates, ports and configs of every local sidecar, under `state_dir`."""

    state_dir: Path
    ports: Ports
    port_base: int = DEFAULT_LOCAL_PORT_BASE
    mesh: MeshTopology = field(default_factory=MeshTopology.load)
    replicas: Replicas = field(default_factory=Replicas)

    @property
    def certs_dir(self) -> Path:
        return self.state_dir / "certs"

    @property
    def layout(self) -> LocalLayout:
        inbound = {name: self.ports.grpc(name) for name in topology.SERVICES}
        replicated = {
            name: tuple(self.replicas.grpc_ports(self.ports, name))
            for name in topology.SERVICES
            if self.replicas.count(name) > 1
        }
        return LocalLayout(inbound, self.port_base, replicated)

    def ensure_certs(self) -> None:
        """A dev CA and a certificate per workload in .state/certs/ (reissued if expiring)."""
        ensure_workload_certs(self.certs_dir, [*topology.SERVICES, EDGE])

    def placement(self, service: str, replica: int = 0) -> Placement:
        return local_placement(service, self.mesh, self.layout, self.certs_dir, replica)

    def write_config(self, service: str, replica: int = 0) -> Path:
        return write_sidecar_config(
            self.placement(service, replica), self.mesh, self.state_dir / "sidecars",
            replica_name(service, replica),
        )  # fmt: skip

    async def start_sidecar(
        self, spec: ServiceSpec, start_envoy: EnvoyStarter, replica: int = 0
    ) -> SidecarRoute:
        """Start the sidecar of `spec`'s replica `replica` and return where its app must
        listen. The sidecar comes first: the app's outbound listeners exist before it calls
        anyone."""
        env = self.service_env(spec, replica)
        placement = self.placement(spec.name, replica)
        await start_envoy(
            f"{replica_name(spec.name, replica)}-sidecar", self.write_config(spec.name, replica),
            f"{LOOPBACK}:{placement.inbound_port} mTLS", placement.admin_port, concurrency=1,
        )  # fmt: skip
        return SidecarRoute(
            app_address=f"{LOOPBACK}:{placement.app_port}",
            health_address=f"{LOOPBACK}:{placement.health_port}",
            env=env,
        )

    def ports_in_use(self, spec: ServiceSpec, replica: int = 0) -> list[tuple[str, int]]:
        """What the replica and its sidecar listen on besides the replica's usual port."""
        ports = self.layout.ports_of(spec.name, self.mesh, replica)
        return [
            (f"{replica_name(spec.name, replica)} {purpose}", port)
            for purpose, port in ports.items()
            if purpose != "inbound"
        ]

    def service_env(self, spec: ServiceSpec, replica: int = 0) -> dict[str, str]:
        """Overrides of `spec.env`: the app on its loopback port, upstreams through the sidecar."""
        placement = self.placement(spec.name, replica)
        prefix = f"LASTMILE_{spec.name.upper()}_"
        env = {f"{prefix}GRPC_PORT": str(placement.app_port)}
        for upstream in spec.upstreams:
            if upstream not in placement.outbound_ports:
                raise DevstackError(
                    f"{spec.name} calls {upstream}, but the mesh topology has no such call "
                    "(gateway/sidecar/topology.py)"
                )
            env[prefix + spec.target_variable(upstream)] = (
                f"{LOOPBACK}:{placement.outbound_ports[upstream]}"
            )
        return env

    def edge_mtls(self) -> UpstreamMtls:
        """The edge's certificate, and the health port of every replica's sidecar."""
        layout = self.layout
        health: dict[str, int | tuple[int, ...]] = {}
        for name in topology.SERVICES:
            ports = tuple(layout.health_port(name, k) for k in range(layout.replicas(name)))
            health[name] = ports[0] if len(ports) == 1 else ports
        return UpstreamMtls(CertPaths(self.certs_dir / EDGE), health)
