"""Faults injected into a running local mesh, and the waits for its supervisor to heal them:
kill a component by the pid run.json gives, then wait until run.json shows it up again and,
for a service, until it answers its health check SERVING."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.components import SERVICES, ServiceSpec
from tests.e2e.conftest import RunningMesh

RESTART_LIMIT_SECONDS = 90.0
POLL_SECONDS = 0.2
SPECS = {spec.name: spec for spec in SERVICES}
NO_ANSWER = "no answer"


@dataclass(frozen=True)
class ComponentState:
    """One component as run.json shows it now; `state` is the supervisor's word for it:
    starting, up, restarting, crashed, stopping or stopped."""

    name: str
    pid: int | None
    state: str | None
    restarts: int


def component(mesh: RunningMesh, name: str) -> ComponentState:
    """The component's entry in run.json, which the supervisor rewrites on every change."""
    entry = mesh.component(name)
    pid = entry.get("pid")
    return ComponentState(
        name, None if pid is None else int(pid), entry.get("state"), int(entry.get("restarts", 0))
    )


def kill(mesh: RunningMesh, name: str, signum: signal.Signals = signal.SIGKILL) -> ComponentState:
    """Signal the component's current process (kill -9 by default); returns what was killed."""
    victim = component(mesh, name)
    assert victim.pid is not None, f"{name} is not running: {victim}"
    os.kill(victim.pid, signum)
    return victim


async def restarted(mesh: RunningMesh, victim: ComponentState) -> ComponentState:
    """Wait until the supervisor reports the component up again, healthy, with one more
    restart (RunningMesh.wait_until_back) and, for a service, until it answers SERVING on
    its own port too; returns its new entry."""
    await asyncio.to_thread(mesh.wait_until_back, victim.name, victim.restarts)
    if victim.name in SPECS:
        await serving(mesh, SPECS[victim.name], limit=RESTART_LIMIT_SECONDS)
    back = component(mesh, victim.name)
    assert back.pid != victim.pid, f"{victim.name} is up under the pid that was killed"
    return back


async def serving(mesh: RunningMesh, spec: ServiceSpec, limit: float = 60.0) -> None:
    """Wait until the service answers SERVING for its gating proto service."""
    give_up = time.monotonic() + limit
    while (status := await health(mesh, spec.name, spec.health_service)) != "SERVING":
        assert time.monotonic() < give_up, f"{spec.name} is {status} after {limit:.0f} s"
        await asyncio.sleep(POLL_SECONDS)


async def all_serving(mesh: RunningMesh, limit: float = RESTART_LIMIT_SECONDS) -> None:
    """Every service of the mesh answers SERVING: the starting point of each fault."""
    give_up = time.monotonic() + limit
    for spec in SERVICES:
        await serving(mesh, spec, limit=max(give_up - time.monotonic(), 1.0))


async def health(mesh: RunningMesh, service: str, proto_service: str = "") -> str:
    """A Health/Check on the service's own port (not through the edge): the status's name
    ("SERVING", "NOT_SERVING", ...), or NO_ANSWER."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.grpc(service)}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=proto_service), timeout=2
            )
        except grpc.aio.AioRpcError:
            return NO_ANSWER
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return name


async def until(condition: Callable[[], bool], limit: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `limit` seconds."""
    give_up = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < give_up, f"{what}: not within {limit:g} s"
        await asyncio.sleep(0.02)


def nats_url(mesh: RunningMesh) -> str:
    return f"nats://127.0.0.1:{mesh.ports.nats}"
