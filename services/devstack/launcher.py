"""`make run`: the whole mesh on one machine — PostgreSQL, NATS JetStream, every service
as its own process and the Envoy edge — started in dependency order, each gated on its
health (health.py), with one combined log stream, supervised (supervisor.py) and stopped
cleanly in reverse order. In sidecar mode, sidecars.py places, configures and starts each
service's Envoy sidecar.

Replicas (`--replicas orders=2,pricing=2`, components.py): each replica is a component of
its own (`orders`, `orders-1`, ...: its own process, log, restarts, hold file and run.json
entry), started one after the other, so that migrations and first-start work (identity's ops
account, signing keys) run once before the next replica starts. The edge's clusters list
every replica; callers' targets name every replica.

Supervision. Every component, PostgreSQL and NATS included, is watched: an exit is reported
with the tail of its log and reaped at once. With the restart policy (`--restart` or
$LASTMILE_RESTART: `always`, the default, `on-failure` or `never`) it is started again after
a crash-loop backoff (1 s, 2 s, 4 s ... at most 30 s; a component that stayed up for 60 s
starts over at 1 s) and counts as up only once its health check passes again. Only the
component that exited is restarted; its dependants stay up and recover by themselves.
PostgreSQL's stale lock files are removed before a restart once their pid is proven gone
(postgres_locks.py).

The interface fault tests use: `<state dir>/run.json` (run_file.py), rewritten atomically on
every change. `components` lists, in start order, `{name, pid, address, log, state,
restarts, pid_start_time, up_since, last_exit, last_exit_code, last_exit_time, stop}`:
- the current pid of `name` is its `pid` (null while it is down; while `restarting`, the pid of
  the new process once it is spawned, before it is healthy);
- `restarts` counts the times it was started again;
- `state` is `starting`, `up`, `restarting` (exited, waiting out its backoff or starting
  again), `crashed` (exited, and the policy keeps it down), `stopping` or `stopped`;
- so, after killing a component whose `restarts` was n, it is back once its entry shows
  `state == "up"` and `restarts > n` (and then a new `pid`); tests/e2e/conftest.py's
  `RunningMesh.wait_until_back(name, n)` waits for exactly that;
- `supervisor_pid` is the launcher (SIGTERM stops the mesh); the file is gone once the mesh
  has stopped. `python -m services.devstack status` prints the same table.
To keep a component down for a while (an outage rather than a blip), create the file
`<state dir>/hold/<name>` before killing it: it stays `restarting` until the file is removed,
and is then started again at once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from gateway.edge import (
    DEFAULT_UPSTREAMS,
    Address,
    EdgeSettings,
    RateLimit,
    envoy_command,
    write_edge_config,
)
from services.devstack.command_server import CommandServer
from services.devstack.components import SERVICES, Ports, Replicas, ServiceSpec, replica_name
from services.devstack.errors import DevstackError
from services.devstack.health import wait_until_ready, wait_until_serving
from services.devstack.nats import LocalNats
from services.devstack.ports import ensure_port_free
from services.devstack.postgres import LocalPostgres
from services.devstack.process import SupervisedProcess
from services.devstack.process_identity import STATE_DIR_VARIABLE, is_same_process
from services.devstack.quote_keys import KEYS_VARIABLE, ensure_quote_keys
from services.devstack.restart_policy import RestartPolicy
from services.devstack.run_file import RunRecord
from services.devstack.sidecars import LocalSidecars
from services.devstack.supervisor import Component, Supervisor
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass
class LocalMesh:
    """Starts and stops the local stack under `state_dir`."""

    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    restart_policy: RestartPolicy = RestartPolicy.NEVER
    supervisor: Supervisor = field(init=False)
    postgres: LocalPostgres | None = None
    nats: LocalNats | None = None
    services: tuple[ServiceSpec, ...] = SERVICES
    # How many processes of each service, and the replicas' port step.
    replicas: Replicas = field(default_factory=Replicas)
    # None: services call each other directly; otherwise through mTLS sidecars.
    sidecars: LocalSidecars | None = None
    # An OTLP/gRPC collector: every service exports its spans there and the edge traces.
    otlp_endpoint: Address | None = None
    # The edge's log-in bucket; a simulated city of thousands of couriers needs more.
    logins_per_minute: int = EdgeSettings.login_rate_limit.requests
    # The service regions file, for every service that reads one (the shipped file's
    # five simulator cities by default).
    regions_file: Path = SHIPPED_REGIONS_FILE

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.state_dir, self.restart_policy)

    @property
    def marker(self) -> dict[str, str]:
        """In every child's environment: `make stop` finds leftovers of this state dir by it."""
        return {STATE_DIR_VARIABLE: str(self.state_dir.resolve())}

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def components(self) -> list[Component]:
        return self.supervisor.components

    async def start(self) -> None:
        ensure_not_running(self.state_dir)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        if self.sidecars is not None:
            await asyncio.to_thread(self.sidecars.ensure_certs)
        self.supervisor.watch_in_background()
        self.postgres = LocalPostgres(
            self.state_dir / "postgres", self.ports.postgres, environment=self.marker
        )
        await self.supervisor.start("postgres", f"127.0.0.1:{self.ports.postgres}", self.postgres)
        self.nats = LocalNats(
            self.state_dir / "nats", self.ports.nats, self.ports.nats_monitor,
            environment=self.marker,
        )  # fmt: skip
        await self.supervisor.start("nats", self.nats.url, self.nats)
        for spec in self.services:
            await self._start_service(spec)
        await self._start_edge()

    def _check_ports(self) -> None:
        checks = [("postgres", self.ports.postgres), ("nats", self.ports.nats),
                  ("nats monitoring", self.ports.nats_monitor), ("edge", self.ports.edge),
                  ("edge admin", self.ports.edge_admin)]  # fmt: skip
        for spec in self.services:
            for k in range(self.replicas.count(spec.name)):
                name = replica_name(spec.name, k)
                checks += [
                    (name, self.replicas.grpc_port(self.ports, spec.name, k)),
                    (f"{name} admin", self.replicas.admin_port(self.ports, spec.name, k)),
                ]
                if self.sidecars is not None:
                    checks += self.sidecars.ports_in_use(spec, k)
        claimed: dict[int, str] = {}
        for name, port in checks:
            if port in claimed:
                raise DevstackError(
                    f"{name} and {claimed[port]} would both listen on port {port}; move one "
                    "(its --*-port flag, or a larger --replica-port-step)"
                )
            claimed[port] = name
        for name, port in checks:
            ensure_port_free(name, port)

    async def _start_service(self, spec: ServiceSpec) -> None:
        if self.postgres is None or self.nats is None:
            raise DevstackError("services start after PostgreSQL and NATS")
        dsn = None
        if spec.database:
            await self.postgres.ensure_database(spec.name)
            dsn = self.postgres.dsn(spec.name)
        for replica in range(self.replicas.count(spec.name)):
            await self._start_replica(spec, replica, dsn, self.nats.url)

    async def _start_replica(
        self, spec: ServiceSpec, replica: int, dsn: str | None, nats_url: str
    ) -> None:
        name = replica_name(spec.name, replica)
        settings = spec.env(self.ports, dsn, nats_url, replicas=self.replicas, replica=replica)
        env = {**os.environ, **settings, **self.marker}
        if spec.name == "pricing":
            # Every pricing replica signs with the same key ring.
            env[KEYS_VARIABLE] = str(ensure_quote_keys(self.state_dir))
        if self.otlp_endpoint is not None:
            env[f"LASTMILE_{spec.name.upper()}_OTLP_ENDPOINT"] = f"http://{self.otlp_endpoint}"
        if spec.regions:
            env[f"LASTMILE_{spec.name.upper()}_REGIONS_FILE"] = str(self.regions_file.resolve())
        port = self.replicas.grpc_port(self.ports, spec.name, replica)
        address = health_address = f"127.0.0.1:{port}"
        if self.sidecars is not None:
            route = await self.sidecars.start_sidecar(spec, self._start_envoy, replica)
            env |= route.env
            address, health_address = route.app_address, route.health_address
        server = CommandServer(
            SupervisedProcess(self.logs / f"{name}.log"),
            [sys.executable, "-m", f"services.{spec.name}"], cwd=REPO, env=env,
            ready=partial(
                wait_until_serving, spec, health_address, service=spec.health_gate(self.replicas)
            ),
            grace=15,
        )  # fmt: skip
        await self.supervisor.start(name, address, server)

    async def _start_edge(self) -> None:
        """Render the Envoy edge for the services started here and wait until it is ready."""
        upstreams: dict[str, Address | tuple[Address, ...]] = dict(DEFAULT_UPSTREAMS)
        for spec in self.services:
            replicas = self.replicas.grpc_ports(self.ports, spec.name)
            addresses = tuple(Address("127.0.0.1", port) for port in replicas)
            upstreams[spec.name] = addresses[0] if len(addresses) == 1 else addresses
        settings = EdgeSettings(
            upstreams=upstreams,
            listen=Address("127.0.0.1", self.ports.edge),
            admin_port=self.ports.edge_admin,
            jwks_url=f"http://127.0.0.1:{self.ports.admin('identity')}/.well-known/jwks.json",
            jwks_replicas=tuple(
                Address("127.0.0.1", self.replicas.admin_port(self.ports, "identity", k))
                for k in range(1, self.replicas.count("identity"))
            ),
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
        server = CommandServer(
            SupervisedProcess(self.logs / f"{name}.log"),
            envoy_command(config, concurrency=concurrency), cwd=REPO,
            env={**os.environ, **self.marker},
            ready=partial(wait_until_ready, name, f"http://127.0.0.1:{admin_port}/ready"),
            grace=10,
        )  # fmt: skip
        await self.supervisor.start(name, address, server)

    async def stop(self) -> None:
        """Stop everything we started, newest first; safe to call more than once."""
        await self.supervisor.stop_all()


def ensure_not_running(state_dir: Path) -> None:
    """Refuse to start (or wipe) a state dir whose mesh runs: its run.json would be lost."""
    record = RunRecord.read(state_dir)
    if record is not None and is_same_process(record.supervisor_pid, record.supervisor_start_time):
        raise DevstackError(
            f"a mesh already runs on {state_dir} (launcher pid {record.supervisor_pid}); "
            "stop it first (make stop)"
        )


def reset_state(state_dir: Path) -> None:
    """Start fresh: remove databases, broker storage and logs of earlier runs."""
    ensure_not_running(state_dir)
    if state_dir.exists():
        shutil.rmtree(state_dir)
