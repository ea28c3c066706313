"""Fault: a rolling restart of every service (SIGTERM, one at a time, each back and
SERVING before the next) while the simulator runs a small city through the edge. With one
replica per service a restart leaves a gap, which clients see as 503 with RetryInfo; the
simulator retries within it, so no create fails after its retries and every delivery
created reaches a final state (delivered or cancelled)."""

from __future__ import annotations

import asyncio
import signal

import pytest

from services.devstack.components import SERVICES
from services.simulator.city import CITIES
from services.simulator.settings import SimulationSettings
from services.simulator.simulation import simulate
from services.simulator.vehicles import Vehicle, VehicleMix
from tests.chaos.edge_log import EdgeAnswers
from tests.chaos.figures import FaultFigures
from tests.chaos.mesh_faults import all_serving, kill, restarted, until
from tests.e2e.conftest import RunningMesh

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=False), pytest.mark.timeout(900)]

# Long enough that customers keep creating while the whole roll happens (about 30 s here).
CREATE_SECONDS = 90.0
DRAIN_SECONDS = 180.0
# Enough couriers, fast enough, for the rate: 20 couriers, each done in ~15 s, carry
# more than one delivery a second, so the drain ends once the deliveries are done.


def city(mesh: RunningMesh) -> SimulationSettings:
    return SimulationSettings(
        edge=mesh.base, grpc_target=mesh.grpc_target, couriers=20, customers=3, rate=1.0,
        duration=CREATE_SECONDS, drain_timeout=DRAIN_SECONDS, connect_timeout=60,
        box=CITIES["hamburg"], speedup=150, accept_probability=1.0, ping_interval=1.0,
        seed=1010, vehicle_mix=VehicleMix({Vehicle.CAR: 1.0}), json_path=None, quiet=True,
    )  # fmt: skip


async def test_a_rolling_restart_of_every_service_under_the_simulator_fails_no_create(
    mesh: RunningMesh, figures: FaultFigures
) -> None:
    await all_serving(mesh)
    answers = EdgeAnswers(mesh)
    settings = city(mesh)
    simulation = asyncio.create_task(simulate(settings, asyncio.Event()))

    def city_started() -> bool:
        """Every simulated account has logged in, and creates flow."""
        logged_in = answers.answered("POST", "/v1/sessions", 200)
        created = answers.answered("POST", "/v1/deliveries", 200)
        everyone = settings.couriers + settings.customers
        return (logged_in >= everyone and created > 0) or simulation.done()

    await until(city_started, 120, "the simulated city starting")
    restarts: dict[str, int] = {}
    for spec in SERVICES:
        assert not simulation.done(), "the simulation ended before the roll did"
        victim = kill(mesh, spec.name, signal.SIGTERM)
        restarts[spec.name] = (await restarted(mesh, victim)).restarts
    rolled_while_creating = not simulation.done()
    summary = await simulation
    deliveries = summary["deliveries"]
    seen = answers.statuses()
    figures.record(
        restarts=restarts,
        rolled_while_creating=rolled_while_creating,
        created=deliveries["created"],
        delivered=deliveries["delivered"],
        cancelled=deliveries["cancelled"],
        still_open=deliveries["still_open"],
        failed_creates=summary["failed_creates"],
        retries=summary["retries"],
        edge_answers=dict(sorted(seen.items())),
        reconnects=summary["sessions"]["reconnects"],
    )

    assert deliveries["created"] > 0
    assert summary["failed_creates"] == {}, "creates failed after the simulator's retries"
    assert deliveries["still_open"] == 0, "deliveries that never reached a final state"
    assert "500" not in seen, "the edge answered 500 during the roll"
