"""One simulation run: check the edge, bring the couriers online, let the customers
create deliveries for the duration, wait for the open ones to finish, and summarize."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx

from services.simulator.ledger import DeliveryLedger
from services.simulator.observations import Observations
from services.simulator.population import Population
from services.simulator.progress import FleetGauge, ProgressLine, status_line
from services.simulator.report import summarize
from services.simulator.settings import SimulationSettings

log = logging.getLogger("lastmile.simulator")

POLL_SECONDS = 0.2
STOP_SECONDS = 10.0


class SimulationFailed(Exception):
    """The run could not start: the edge is unreachable or no courier could connect."""


async def probe_edge(edge: str) -> None:
    """Any HTTP answer (401 included) means the edge is there."""
    try:
        async with httpx.AsyncClient(base_url=edge, timeout=5.0) as client:
            await client.get("/v1/me")
    except httpx.HTTPError as error:
        raise SimulationFailed(
            f"the edge at {edge} is unreachable ({error!r}); is `make run` running?"
        ) from None


async def simulate(settings: SimulationSettings, interrupted: asyncio.Event) -> dict[str, Any]:
    await probe_edge(settings.edge)
    observations = Observations(DeliveryLedger(rng=random.Random(settings.seed)))
    loop = asyncio.get_running_loop()
    started = loop.time()
    go, stop_customers, stop_couriers, stop_progress = (asyncio.Event() for _ in range(4))
    async with Population(settings, observations) as population:
        progress = ProgressLine(lambda: status_line(
            loop.time() - started, FleetGauge.of(a.state for a in population.couriers), observations
        ))  # fmt: skip
        customers = [
            asyncio.create_task(population.run_customer(i, go, settings.duration, stop_customers))
            for i in range(settings.customers)
        ]
        couriers = [
            asyncio.create_task(population.run_courier(i, stop_couriers))
            for i in range(settings.couriers)
        ]
        background = [] if settings.quiet else [asyncio.create_task(progress.run(stop_progress))]
        try:
            await _first_session(settings, observations, couriers, interrupted)
            go.set()
            await _until(lambda: all(task.done() for task in customers), None, interrupted)
            await _until(lambda: observations.ledger.open_count == 0, settings.drain_timeout,
                         interrupted)  # fmt: skip
        finally:
            for event in (stop_customers, stop_couriers, stop_progress):
                event.set()
            await _finish([*customers, *couriers, *background])
    return summarize(observations, loop.time() - started)


async def _first_session(
    settings: SimulationSettings,
    observations: Observations,
    couriers: list[asyncio.Task[None]],
    interrupted: asyncio.Event,
) -> None:
    await _until(
        lambda: observations.sessions_started > 0 or all(task.done() for task in couriers),
        settings.connect_timeout,
        interrupted,
    )
    if observations.sessions_started == 0 and not interrupted.is_set():
        reason = observations.last_connect_error or "no answer"
        raise SimulationFailed(
            f"no courier could connect through {settings.grpc_target} within"
            f" {settings.connect_timeout:.0f} s (last error: {reason}); is `make run` running,"
            " with fleet and dispatch?"
        )


async def _until(
    condition: Callable[[], bool],
    limit: float | None,
    interrupted: asyncio.Event,
) -> None:
    """Poll `condition` until it holds, `limit` seconds pass, or the run is interrupted."""
    loop = asyncio.get_running_loop()
    give_up = None if limit is None else loop.time() + limit
    while not condition() and not interrupted.is_set():
        if give_up is not None and loop.time() >= give_up:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interrupted.wait(), timeout=POLL_SECONDS)


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let every agent stop on its own, then cancel stragglers; report failures."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_SECONDS)
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.error("an agent failed", exc_info=result)
