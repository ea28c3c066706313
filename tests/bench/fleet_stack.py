"""fleet and dispatch as production runs them, for the courier benchmarks: an embedded
PostgreSQL and a NATS JetStream (as the integration fixtures start them), and pricing,
orders, dispatch and fleet each as its own `python -m services.<name>` process with the
LASTMILE_* settings the launcher gives it (services/devstack/components.py), on free
ports. No edge: the load generator talks to fleet and orders directly. fleet can be
pinned to a CPU; everything is stopped by pid on the way out, also when starting fails."""

from __future__ import annotations

import resource
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from services.devstack import LocalNats, LocalPostgres
from services.devstack.components import SERVICES, Ports, ServiceSpec
from tests.bench.local_mesh import free_ports, metrics_text
from tests.bench.pricing_calls import reports_serving
from tests.bench.server_process import running_server

# Started in this order; identity, tracking and the edge are not on the measured paths.
STACK = ("pricing", "orders", "dispatch", "fleet")


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
        return metrics_text(self.admin_ports[service])


def raise_fd_limit() -> str:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every child started after
    this); returns a line that says what it did."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= hard:
        return f"fd limit: RLIMIT_NOFILE {soft} (already the hard limit)"
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return (
        f"fd limit: RLIMIT_NOFILE soft {soft} -> {raised} (raised to the hard limit for "
        f"this process and its children)"
    )


def rss_bytes(pid: int) -> int:
    """VmRSS of one process (not its children)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _with_sampling(
    spec: ServiceSpec, ports: Ports, dsn: str | None, nats_url: str, ratio: float | None
) -> dict[str, str]:
    env = spec.env(ports, dsn, nats_url)
    if ratio is not None:
        env[f"LASTMILE_{spec.name.upper()}_TRACE_SAMPLE_RATIO"] = repr(ratio)
    return env


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
    work: Path, *, fleet_cpus: str = "", trace_sample_ratio: float | None = None
) -> AsyncIterator[FleetStack]:
    """PostgreSQL, NATS, pricing, orders, dispatch (SERVING once it leads) and fleet;
    `trace_sample_ratio` None keeps each service's own default (every trace sampled)."""
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
                logs[name] = work / f"{name}.log"
                server = servers.enter_context(
                    running_server(
                        _command(
                            _with_sampling(spec, ports, dsn, nats.url, trace_sample_ratio), name
                        ),
                        port=ports.grpc(name),
                        log=logs[name],
                        is_ready=partial(reports_serving, service=spec.health_service),
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
