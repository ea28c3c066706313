"""fleet and dispatch as production runs them, for the courier benchmarks: an embedded
PostgreSQL and a NATS JetStream (as the integration fixtures start them), and pricing,
orders, dispatch and fleet each as its own `python -m services.<name>` process with the
LASTMILE_* settings the launcher gives it (services/devstack/components.py), on free
ports. No edge: the load generator talks to fleet and orders directly. fleet can be
pinned to a CPU; everything is stopped by pid on the way out, also when starting fails."""

from __future__ import annotations

import resource
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack import LocalNats, LocalPostgres
from services.devstack.components import SERVICES, ServiceSpec
from tests.bench.local_mesh import free_ports
from tests.bench.server_process import running_server

# Started in this order; identity, tracking and the edge are not on the measured paths.
STACK = ("pricing", "orders", "dispatch", "fleet")
HEALTH_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class FleetStack:
    """Where each part listens, its pid and its log."""

    grpc_ports: dict[str, int]
    admin_ports: dict[str, int]
    pids: dict[str, int]  # postgres, nats and every service
    logs: dict[str, Path]

    def target(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_ports[service]}"

    def metrics_text(self, service: str) -> str:
        url = f"http://127.0.0.1:{self.admin_ports[service]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text: str = response.read().decode()
        return text


def raise_fd_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every child started after
    this); returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes(pid: int) -> int:
    """VmRSS of one process (not its children)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _serving(health_service: str) -> Callable[[int], bool]:
    def check(port: int) -> bool:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=health_service),
                    timeout=HEALTH_TIMEOUT_SECONDS,
                )
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def _command(env: dict[str, str], name: str) -> list[str]:
    # `env` execs the interpreter (and taskset execs `env`), so the pid is the service.
    return [
        "env",
        *(f"{key}={value}" for key, value in env.items()),
        sys.executable,
        "-m",
        f"services.{name}",
    ]


@asynccontextmanager
async def fleet_stack(
    work: Path, *, fleet_cpus: str = "", fleet_env: dict[str, str] | None = None
) -> AsyncIterator[FleetStack]:
    """PostgreSQL, NATS, pricing, orders, dispatch (SERVING once it leads) and fleet."""
    ports = free_ports()
    specs: dict[str, ServiceSpec] = {spec.name: spec for spec in SERVICES}
    postgres = LocalPostgres(work / "postgres", ports.postgres)
    nats = LocalNats(work / "nats", ports.nats, ports.nats_monitor)
    try:
        await postgres.start()
        await nats.start()
        assert postgres.pid is not None
        assert nats.pid is not None
        pids = {"postgres": postgres.pid, "nats": nats.pid}
        logs = {"postgres": postgres.log_path, "nats": nats.log_path}
        with ExitStack() as servers:
            for name in STACK:
                spec = specs[name]
                dsn = None
                if spec.database:
                    await postgres.ensure_database(name)
                    dsn = postgres.dsn(name)
                env = spec.env(ports, dsn, nats.url)
                if name == "fleet" and fleet_env:
                    env |= {f"LASTMILE_FLEET_{key}": value for key, value in fleet_env.items()}
                logs[name] = work / f"{name}.log"
                server = servers.enter_context(
                    running_server(
                        _command(env, name),
                        port=ports.grpc(name),
                        log=logs[name],
                        is_ready=_serving(spec.health_service),
                        cpus=fleet_cpus if name == "fleet" else "",
                        ready_within_seconds=60.0,
                    )
                )
                pids[name] = server.process.pid
            yield FleetStack(
                {name: ports.grpc(name) for name in STACK},
                {name: ports.admin(name) for name in STACK},
                pids,
                logs,
            )
    finally:
        await nats.stop()
        await postgres.stop()
