"""Real Envoy sidecars for tests and benchmarks: placed on free loopback ports, rendered by the
real renderer, started on their own pids and always stopped."""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType

from gateway.edge.render import envoy_command
from gateway.edge.settings import Address
from gateway.sidecar.placement import LOOPBACK, Peer, Placement, Variant
from gateway.sidecar.render import write_sidecar_config
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import MeshTopology
from services.devstack.ports import free_port


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
        variant=Variant.LOCAL,
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
    process = _spawn(config, log)
    try:
        await _wait_until_ready(process, placement.admin_port, log, limit)
        yield log
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 10)


def _spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            envoy_command(config, concurrency=1),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _wait_until_ready(
    process: subprocess.Popen[bytes], admin_port: int, log: Path, limit: float
) -> None:
    give_up = time.monotonic() + limit
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise AssertionError(f"envoy exited: {_tail(log)}")
        try:
            if await asyncio.to_thread(_status, f"http://{LOOPBACK}:{admin_port}/ready") == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"envoy was not ready in {limit}s: {_tail(log)}")


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as response:
        status: int = response.status
        return status
