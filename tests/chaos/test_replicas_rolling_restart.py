"""Fault: a rolling restart of a mesh that runs two replicas of every service, one replica at
a time (SIGTERM, then back and healthy before the next), while the simulator runs a small
city through the edge. With a second replica always up, no gap opens: the edge answers
every create without a server error, no create fails, every delivery is delivered, and
JetStream holds each delivery's events once."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections.abc import Iterator

import pytest

from services.devstack.components import SERVICES
from services.simulator.simulation import simulate
from tests.chaos.conftest import CHAOS_ENVIRONMENT
from tests.chaos.edge_log import EdgeAnswers
from tests.chaos.event_stream import events_per_delivery
from tests.chaos.figures import FaultFigures
from tests.chaos.mesh_faults import kill, nats_url, until
from tests.chaos.test_rolling_restart import city
from tests.e2e.conftest import RunningMesh, start_mesh, stop_mesh
from tests.e2e.replica_metrics import health

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=False), pytest.mark.timeout(1200)]

EVERY_SERVICE_TWICE = ",".join(f"{spec.name}=2" for spec in SERVICES)
SERVING_LIMIT_SECONDS = 90.0
# Twelve replicas, each drained and started again: customers keep creating throughout.
CREATE_SECONDS = 180.0


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh(
        "direct", tmp_path_factory.mktemp("mesh-chaos-replicas"), CHAOS_ENVIRONMENT,
        replicas=EVERY_SERVICE_TWICE,
    )  # fmt: skip
    try:
        yield running
    finally:
        stop_mesh(running)


async def back_and_serving(mesh: RunningMesh, service: str, replica: int, restarts: int) -> int:
    """Wait until the supervisor has the replica up again, and it answers its start gate
    SERVING on its own port; its restarts count."""
    name = mesh.replica_names(service)[replica]
    await asyncio.to_thread(mesh.wait_until_back, name, restarts)
    [spec] = [spec for spec in SERVICES if spec.name == service]
    gate = spec.health_gate(mesh.replicas)
    give_up = time.monotonic() + SERVING_LIMIT_SECONDS
    while (status := await asyncio.to_thread(health, mesh, service, replica, gate)) != "SERVING":
        assert time.monotonic() < give_up, f"{name} is {status}"
        await asyncio.sleep(0.2)
    return int(mesh.component(name)["restarts"])


async def test_a_rolling_restart_of_every_replica_under_the_simulator_fails_no_request(
    replicated: RunningMesh, figures: FaultFigures
) -> None:
    mesh = replicated
    answers = EdgeAnswers(mesh)
    settings = dataclasses.replace(city(mesh), duration=CREATE_SECONDS)
    simulation = asyncio.create_task(simulate(settings, asyncio.Event()))

    def city_started() -> bool:
        logged_in = answers.answered("POST", "/v1/sessions", 200)
        created = answers.answered("POST", "/v1/deliveries", 200)
        everyone = settings.couriers + settings.customers
        return (logged_in >= everyone and created > 0) or simulation.done()

    await until(city_started, 120, "the simulated city starting")
    restarts: dict[str, int] = {}
    for spec in SERVICES:
        for replica, name in enumerate(mesh.replica_names(spec.name)):
            assert not simulation.done(), "the simulation ended before the roll did"
            victim = kill(mesh, name, signal.SIGTERM)
            restarts[name] = await back_and_serving(mesh, spec.name, replica, victim.restarts)
    rolled_while_creating = not simulation.done()
    summary = await simulation
    deliveries = summary["deliveries"]
    seen = answers.statuses()
    creates = {
        status: answers.answered("POST", "/v1/deliveries", int(status))
        for status in seen
        if status.isdigit()
    }
    delivered = await events_per_delivery(nats_url(mesh), "lastmile.delivery.delivered")
    created = await events_per_delivery(nats_url(mesh), "lastmile.delivery.created")
    figures.record(
        restarts=restarts,
        rolled_while_creating=rolled_while_creating,
        created=deliveries["created"],
        delivered=deliveries["delivered"],
        still_open=deliveries["still_open"],
        failed_creates=summary["failed_creates"],
        retries=summary["retries"],
        edge_answers_to_creates={s: n for s, n in sorted(creates.items()) if n},
        reconnects=summary["sessions"]["reconnects"],
        events_per_delivery={
            "created": set(created.values()),
            "delivered": set(delivered.values()),
        },
    )

    assert rolled_while_creating
    assert deliveries["created"] > 0
    assert summary["failed_creates"] == {}, "creates failed after the simulator's retries"
    assert deliveries["delivered"] == deliveries["created"], "deliveries that were not delivered"
    assert not [s for s, n in creates.items() if s.startswith("5") and n], (
        f"the edge answered creates with server errors: {creates}"
    )
    assert set(created.values()) == {1}, "a delivery.created published more than once"
    assert set(delivered.values()) == {1}, "a delivery.delivered published more than once"
    assert len(delivered) == deliveries["delivered"]
