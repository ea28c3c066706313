"""Where one sidecar runs: its listeners' addresses and ports, how it reaches each callee, and
its certificate files (file-based SDS in Kubernetes, static files locally; see tls.py). The
template is the same everywhere; only the placement differs.

`kubernetes_placement` follows the pod convention of topology.py; `local_placements` puts the
whole mesh on 127.0.0.1 for `make run MESH=sidecars`, one port block per service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType

from gateway.edge.kubernetes import service_host
from gateway.edge.settings import Address
from gateway.sidecar import topology
from gateway.sidecar.tls import KUBERNETES_CERTS, CertPaths
from gateway.sidecar.topology import MeshTopology

LOOPBACK = "127.0.0.1"
# Where a pod mounts its sidecar's ConfigMap: the bootstrap and the SDS resource files.
KUBERNETES_SIDECAR_DIR = Path("/etc/lastmile/sidecar")
# Local port blocks: service k (its canonical port minus 50050) owns base + 100 k .. + 99,
# laid out like a pod: +0 admin, +21 health, +50 + j outbound to service j, +90 stats.
# Replica r of a service has the block 6 r further on (one pod each): base + 100 (k + 6 r).
DEFAULT_LOCAL_PORT_BASE = 16000
_LOCAL_BLOCK = 100
_LOCAL_APP, _LOCAL_HEALTH, _LOCAL_OUTBOUND, _LOCAL_STATS = 1, 21, 50, 90


@dataclass(frozen=True)
class Peer:
    """How a sidecar reaches a callee: its mTLS address and its plaintext health port."""

    address: Address
    health_port: int


@dataclass(frozen=True)
class Placement:
    """Everything about one sidecar that is not the mesh graph itself."""

    service: str
    # Pod-facing listeners (inbound, health, stats) bind here; admin and outbound: loopback.
    public_host: str
    inbound_port: int
    app_port: int
    admin_port: int
    health_port: int
    stats_port: int
    outbound_ports: Mapping[str, int]
    # How each callee is reached: one address (a headless Service's name, which resolves to
    # every ready pod), or every replica's sidecar (the local mesh).
    peers: Mapping[str, Peer | tuple[Peer, ...]]
    certs: CertPaths

    def endpoints(self, callee: str) -> tuple[Peer, ...]:
        peers = self.peers[callee]
        return peers if isinstance(peers, tuple) else (peers,)


def kubernetes_placement(service: str, mesh: MeshTopology) -> Placement:
    callees = mesh.callees(service)
    return Placement(
        service=service,
        public_host="0.0.0.0",
        inbound_port=topology.CANONICAL_PORTS[service],
        app_port=topology.app_port(service),
        admin_port=topology.ADMIN_PORT,
        health_port=topology.HEALTH_PORT,
        stats_port=topology.STATS_PORT,
        outbound_ports=MappingProxyType({c: topology.outbound_port(c) for c in callees}),
        peers=MappingProxyType({c: kubernetes_peer(c) for c in callees}),
        # File-based SDS: cert-manager's renewals are picked up without a restart.
        certs=KUBERNETES_CERTS.with_sds(KUBERNETES_SIDECAR_DIR),
    )


def kubernetes_peer(callee: str) -> Peer:
    # The headless Service resolves to every ready pod (see deploy/k8s/README.md).
    address = Address(service_host(callee), topology.CANONICAL_PORTS[callee])
    return Peer(address, topology.HEALTH_PORT)


@dataclass(frozen=True)
class LocalLayout:
    """The local mesh's ports: each service's mTLS port (the devstack's), and the port
    blocks from `base` that hold everything else. `replica_inbound_ports` lists the mTLS
    port of every replica of a service that runs several (replica 0 first)."""

    inbound_ports: Mapping[str, int]
    base: int = DEFAULT_LOCAL_PORT_BASE
    replica_inbound_ports: Mapping[str, tuple[int, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def _block(self, service: str, replica: int = 0) -> int:
        return self.base + _LOCAL_BLOCK * (_index(service) + len(topology.SERVICES) * replica)

    def replicas(self, service: str) -> int:
        return len(self.replica_inbound_ports.get(service, ())) or 1

    def inbound_port(self, service: str, replica: int = 0) -> int:
        if service in self.replica_inbound_ports:
            return self.replica_inbound_ports[service][replica]
        return self.inbound_ports.get(service, topology.CANONICAL_PORTS[service])

    def app_port(self, service: str, replica: int = 0) -> int:
        return self._block(service, replica) + _LOCAL_APP

    def health_port(self, service: str, replica: int = 0) -> int:
        return self._block(service, replica) + _LOCAL_HEALTH

    def outbound_port(self, caller: str, callee: str, replica: int = 0) -> int:
        return self._block(caller, replica) + _LOCAL_OUTBOUND + _index(callee)

    def peer(self, callee: str, replica: int = 0) -> Peer:
        return Peer(
            Address(LOOPBACK, self.inbound_port(callee, replica)), self.health_port(callee, replica)
        )

    def peers(self, callee: str) -> Peer | tuple[Peer, ...]:
        """The sidecar of every replica of `callee` (one Peer when it runs once)."""
        count = self.replicas(callee)
        return (
            self.peer(callee)
            if count == 1
            else tuple(map(partial(self.peer, callee), range(count)))
        )

    def ports_of(self, service: str, mesh: MeshTopology, replica: int = 0) -> dict[str, int]:
        """Every port replica `replica` of `service`'s sidecar and app listen on, by what it
        is for."""
        block = self._block(service, replica)
        ports = {
            "inbound": self.inbound_port(service, replica),
            "app": self.app_port(service, replica),
            "admin": block,
            "health": self.health_port(service, replica),
            "stats": block + _LOCAL_STATS,
        }
        ports |= {
            f"outbound to {c}": self.outbound_port(service, c, replica)
            for c in mesh.callees(service)
        }
        return ports


def _index(service: str) -> int:
    return topology.CANONICAL_PORTS[service] - min(topology.CANONICAL_PORTS.values())


def local_placement(
    service: str, mesh: MeshTopology, layout: LocalLayout, certs_dir: Path, replica: int = 0
) -> Placement:
    """The sidecar of replica `replica` of `service` on loopback; its certificate files are
    `certs_dir/<service>/` (every replica is the same workload, as pods of a Deployment)."""
    ports = layout.ports_of(service, mesh, replica)
    callees = mesh.callees(service)
    return Placement(
        service=service,
        public_host=LOOPBACK,
        inbound_port=ports["inbound"],
        app_port=ports["app"],
        admin_port=ports["admin"],
        health_port=ports["health"],
        stats_port=ports["stats"],
        outbound_ports=MappingProxyType(
            {c: layout.outbound_port(service, c, replica) for c in callees}
        ),
        peers=MappingProxyType({c: layout.peers(c) for c in callees}),
        certs=CertPaths(certs_dir / service),
    )
