"""Real Envoy sidecars for tests and benchmarks: placed on free loopback ports, rendered by the
real renderer, started on their own pids and always stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType

from gateway.edge.render import envoy_command
from gateway.edge.settings import Address
from gateway.sidecar.placement import LOOPBACK, Peer, Placement
from gateway.sidecar.render import write_sidecar_config
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import MeshTopology
from services.devstack.ports import free_port
from tests.integration.gateway.edge_process import EnvoyProcess


def place(
    service: str,
    mesh: MeshTopology,
    certs_dir: Path,
    *,
    app_port: int,
    callees: Mapping[str, Placement] = MappingProxyType({}),
) -> Placement:
    """`service`'s sidecar on free loopback ports, calling the sidecars in `callees` (any other
    callee of the topology gets an address where nothing listens)."""
    names = mesh.callees(service)

    def peer(callee: str) -> Peer:
        placed = callees.get(callee)
        if placed is None:
            return Peer(Address(LOOPBACK, free_port()), free_port())
        return Peer(Address(LOOPBACK, placed.inbound_port), placed.health_port)

    return Placement(
        service=service,
        public_host=LOOPBACK,
        inbound_port=free_port(),
        app_port=app_port,
        admin_port=free_port(),
        health_port=free_port(),
        stats_port=free_port(),
        outbound_ports=MappingProxyType({callee: free_port() for callee in names}),
        peers=MappingProxyType({callee: peer(callee) for callee in names}),
        certs=CertPaths(certs_dir / service),
    )


@asynccontextmanager
async def running_sidecar(
    placement: Placement, mesh: MeshTopology, work: Path, *, limit: float = 20.0
) -> AsyncIterator[Path]:
    """Run the sidecar until the block ends; yields its log file."""
    config = write_sidecar_config(placement, mesh, work)
    log = config.parent / "envoy.log"
    process = EnvoyProcess(
        config,
        placement.inbound_port,
        placement.admin_port,
        log,
        command=envoy_command(config, concurrency=1),
    )
    try:
        await asyncio.to_thread(process.start, limit)
        yield log
    finally:
        await asyncio.to_thread(process.stop)
