"""`make run`: the whole mesh on one machine — PostgreSQL, NATS JetStream, every service
as its own process and the Envoy edge — started in dependency order, each gated on its
health (health.py), with one combined log stream, and stopped cleanly in reverse order. In
sidecar mode, sidecars.py places, configures and starts each service's Envoy sidecar."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gateway.edge import (
    DEFAULT_UPSTREAMS,
    Address,
    EdgeSettings,
    RateLimit,
    envoy_command,
    write_edge_config,
)
from services.devstack.components import SERVICES, Ports, ServiceSpec
from services.devstack.errors import DevstackError
from services.devstack.health import wait_until_ready, wait_until_serving
from services.devstack.nats import LocalNats
from services.devstack.ports import ensure_port_free
from services.devstack.postgres import LocalPostgres
from services.devstack.process import SupervisedProcess
from services.devstack.sidecars import LocalSidecars
from services.devstack.supervisor import (
    Component,
    Supervisor,
    remove_status,
    write_status,
)

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass
class LocalMesh:
    """Starts and stops the local stack under `state_dir`."""

    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    supervisor: Supervisor = field(default_factory=Supervisor)
    postgres: LocalPostgres | None = None
    nats: LocalNats | None = None
    services: tuple[ServiceSpec, ...] = SERVICES
    # None: services call each other directly; otherwise through mTLS sidecars.
    sidecars: LocalSidecars | None = None
    # An OTLP/gRPC collector: every service exports its spans there and the edge traces.
    otlp_endpoint: Address | None = None
    # The edge's log-in bucket; a simulated city of thousands of couriers needs more.
    logins_per_minute: int = EdgeSettings.login_rate_limit.requests

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def components(self) -> list[Component]:
        return self.supervisor.components

    async def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        if self.sidecars is not None:
            await asyncio.to_thread(self.sidecars.ensure_certs)
        self.postgres = LocalPostgres(self.state_dir / "postgres", self.ports.postgres)
        await self.postgres.start()
        self.supervisor.add(Component(
            "postgres", self.postgres.pid, self.state_dir / "postgres" / "postgres.log",
            f"127.0.0.1:{self.ports.postgres}",
        ), self.postgres.stop)  # fmt: skip
        self.nats = LocalNats(self.state_dir / "nats", self.ports.nats, self.ports.nats_monitor)
        await self.nats.start()
        self.supervisor.add(Component(
            "nats", self.nats.pid, self.state_dir / "nats" / "nats.log", self.nats.url
        ), self.nats.stop)  # fmt: skip
        for spec in self.services:
            await self._start_service(spec)
        await self._start_edge()
        write_status(self.state_dir, self.components)

    def _check_ports(self) -> None:
        checks = [("postgres", self.ports.postgres), ("nats", self.ports.nats),
                  ("nats monitoring", self.ports.nats_monitor), ("edge", self.ports.edge),
                  ("edge admin", self.ports.edge_admin)]  # fmt: skip
        for spec in self.services:
            checks += [(spec.name, self.ports.grpc(spec.name)),
                       (f"{spec.name} admin", self.ports.admin(spec.name))]  # fmt: skip
            if self.sidecars is not None:
                checks += self.sidecars.ports_in_use(spec)
        for name, port in checks:
            ensure_port_free(name, port)

    async def _start_service(self, spec: ServiceSpec) -> None:
        if self.postgres is None or self.nats is None:
            raise DevstackError("services start after PostgreSQL and NATS")
        dsn = None
        if spec.database:
            await self.postgres.ensure_database(spec.name)
            dsn = self.postgres.dsn(spec.name)
        env = {**os.environ, **spec.env(self.ports, dsn, self.nats.url)}
        if self.otlp_endpoint is not None:
            env[f"LASTMILE_{spec.name.upper()}_OTLP_ENDPOINT"] = f"http://{self.otlp_endpoint}"
        address = health_address = f"127.0.0.1:{self.ports.grpc(spec.name)}"
        if self.sidecars is not None:
            route = await self.sidecars.start_sidecar(spec, self._start_envoy)
            env |= route.env
            address, health_address = route.app_address, route.health_address
        process = SupervisedProcess(self.logs / f"{spec.name}.log")
        process.spawn([sys.executable, "-m", f"services.{spec.name}"], cwd=REPO, env=env)
        self.supervisor.supervise(spec.name, process, address, grace=15)
        await wait_until_serving(spec, health_address, process)

    async def _start_edge(self) -> None:
        """Render the Envoy edge for the services started here and wait until it is ready."""
        upstreams = dict(DEFAULT_UPSTREAMS)
        for spec in self.services:
            upstreams[spec.name] = Address("127.0.0.1", self.ports.grpc(spec.name))
        settings = EdgeSettings(
            upstreams=upstreams,
            listen=Address("127.0.0.1", self.ports.edge),
            admin_port=self.ports.edge_admin,
            jwks_url=f"http://127.0.0.1:{self.ports.admin('identity')}/.well-known/jwks.json",
            cors_allowed_origins=("*",),
            upstream_mtls=None if self.sidecars is None else self.sidecars.edge_mtls(),
            otlp_endpoint=self.otlp_endpoint,
            login_rate_limit=RateLimit(requests=self.logins_per_minute, per_seconds=60),
        )
        config = write_edge_config(settings, self.state_dir / "edge")
        await self._start_envoy(
            "edge", config, f"127.0.0.1:{self.ports.edge}", self.ports.edge_admin
        )

    async def _start_envoy(
        self, name: str, config: Path, address: str, admin_port: int, *, concurrency: int = 2
    ) -> None:
        """Run an Envoy (the edge or a sidecar) and wait until its admin says it is ready."""
        process = SupervisedProcess(self.logs / f"{name}.log")
        process.spawn(envoy_command(config, concurrency=concurrency), cwd=REPO)
        self.supervisor.supervise(name, process, address, grace=10)
        await wait_until_ready(name, f"http://127.0.0.1:{admin_port}/ready", process)

    async def stop(self) -> None:
        """Stop everything we started, newest first; safe to call more than once."""
        await self.supervisor.stop_all()
        remove_status(self.state_dir)


def reset_state(state_dir: Path) -> None:
    """Start fresh: remove databases, broker storage and logs of earlier runs."""
    if state_dir.exists():
        shutil.rmtree(state_dir)
