"""The whole mesh as `make run` starts it, on free ports in a scratch directory.

Each test module gets its own mesh per mode: services calling each other directly, and
through Envoy sidecars with mTLS and RBAC (`make run MESH=sidecars`, the Kubernetes
topology). The launcher is stopped at the end of the module, whatever happened."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest

from services.devstack.components import Ports, Replicas, replica_name
from services.devstack.ports import free_port, is_port_free

# Short offer deadlines, so that the timeout path is seen within a test.
OFFER_TTL_SECONDS = 4
MESH_ENVIRONMENT = {
    "LASTMILE_IDENTITY_LOCKOUT_MAX_FAILURES": "100",
    "LASTMILE_DISPATCH_OFFER_TTL_SECONDS": str(OFFER_TTL_SECONDS),
    "LASTMILE_DISPATCH_OFFER_GRACE_SECONDS": "1",
}


_PR_SET_PDEATHSIG = 1
# Looked up here, in the parent, so that the child only makes one foreign call before exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_the_tests() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM when the test process
    dies, even by the per-test timeout's os._exit, which skips fixture teardown. The
    launcher then stops its mesh as on Ctrl-C, so a hung test leaves nothing running."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RunningMesh:
    """The launcher process, its ports and its state directory."""

    process: subprocess.Popen[bytes]
    mode: str
    ports: Ports
    state_dir: Path
    output: Path
    replicas: Replicas = field(default_factory=Replicas)

    def grpc_port(self, service: str, replica: int = 0) -> int:
        """Where replica `replica` of `service` answers (its sidecar, in sidecar mode)."""
        return self.replicas.grpc_port(self.ports, service, replica)

    def admin_port(self, service: str, replica: int = 0) -> int:
        return self.replicas.admin_port(self.ports, service, replica)

    def replica_names(self, service: str) -> list[str]:
        return [replica_name(service, k) for k in range(self.replicas.count(service))]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports.edge}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports.edge}"

    def status(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.state_dir / "run.json").read_text())
        return loaded

    def component(self, name: str) -> dict[str, Any]:
        """`name`'s entry in run.json: pid, state, restarts, last_exit, ... (launcher.py)."""
        [entry] = [c for c in self.status()["components"] if c["name"] == name]
        return dict(entry)

    def pid_of(self, name: str) -> int:
        return int(self.component(name)["pid"])

    def wait_until_back(self, name: str, restarts_before: int, limit: float = 120) -> int:
        """After killing `name` (whose restarts count was `restarts_before`): wait until the
        supervisor reports it up again, healthy; its new pid."""
        give_up = time.monotonic() + limit
        while True:
            entry = self.component(name)
            if entry["state"] == "up" and entry["restarts"] > restarts_before:
                return int(entry["pid"])
            assert time.monotonic() < give_up, f"{name} is not back: {entry}"
            time.sleep(0.1)


def free_port_block(size: int = 600) -> int:
    """The first port of `size` free ones, below the kernel's ephemeral range (where the
    other ports of these tests come from)."""
    for base in range(20_000, 32_000 - size, size):
        if all(is_port_free(port) for port in range(base, base + size)):
            return base
    raise AssertionError("no block of free ports for the sidecars")


# With replicas, every port comes from one free block: the mesh's ports first, replica k of
# each `REPLICA_PORT_STEP` further on, then the sidecars' blocks (600 per replica).
REPLICA_PORT_STEP = 20
_SIDECAR_OFFSET = 100


def start_mesh(
    mode: str,
    state: Path,
    environment: Mapping[str, str] | None = None,
    restart: str = "always",
    replicas: str = "",
) -> RunningMesh:
    """`environment` adds to (or overrides) MESH_ENVIRONMENT for the launcher and, through
    it, every service, e.g. LASTMILE_OTLP_ENDPOINT. `restart` is the launcher's restart
    policy (as `make run`: always; never leaves a killed component down). `replicas` is
    `--replicas` (e.g. "orders=2,pricing=2")."""
    plan = Replicas.parse(replicas, REPLICA_PORT_STEP)
    sidecar_base = None
    if plan.counts:
        most = max(plan.counts.values())
        block = free_port_block(_SIDECAR_OFFSET + 600 * most)
        names = [port.name for port in fields(Ports)]
        assert len(names) <= REPLICA_PORT_STEP
        assert REPLICA_PORT_STEP * most <= _SIDECAR_OFFSET
        ports = Ports(**{name: block + offset for offset, name in enumerate(names)})
        sidecar_base = block + _SIDECAR_OFFSET
    else:
        ports = Ports(**{port.name: free_port() for port in fields(Ports)})
    output = state / "launcher.out"
    flags = [f"--{p.name.replace('_', '-')}-port={getattr(ports, p.name)}" for p in fields(Ports)]
    flags += [f"--mesh={mode}", f"--restart={restart}"]
    if plan.counts:
        flags += [f"--replicas={replicas}", f"--replica-port-step={REPLICA_PORT_STEP}"]
    if mode == "sidecars":
        flags.append(f"--sidecar-port-base={sidecar_base or free_port_block()}")
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.devstack", "--state-dir", str(state), "run", *flags],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **MESH_ENVIRONMENT, **(environment or {})},
            preexec_fn=die_with_the_tests,
        )
    running = RunningMesh(process, mode, ports, state, output, plan)
    # Replicas start one after the other.
    give_up = time.monotonic() + 180 + 20 * sum(count - 1 for count in plan.counts.values())
    while b"Lastmile is running." not in output.read_bytes():
        if process.poll() is not None or time.monotonic() > give_up:
            stop_mesh(running)
            raise AssertionError(output.read_text()[-3000:])
        time.sleep(0.2)
    return running


def stop_mesh(mesh: RunningMesh) -> None:
    if mesh.process.poll() is None:
        mesh.process.send_signal(signal.SIGTERM)
        try:
            mesh.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            mesh.process.kill()
            mesh.process.wait()


@pytest.fixture(scope="module", params=["direct", "sidecars"])
def mesh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningMesh]:
    running = start_mesh(request.param, tmp_path_factory.mktemp(f"mesh-{request.param}"))
    try:
        yield running
    finally:
        stop_mesh(running)
