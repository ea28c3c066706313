"""Fault: NATS is killed with SIGKILL while customers keep creating deliveries, and the
supervisor brings it back. Creates never needed NATS (the event waits in orders' outbox),
the relay drains the outbox once NATS is back, and the stream holds exactly one
delivery.created per delivery: those acknowledged before the kill survived it
(`sync_interval: always`), and those re-sent after it were dropped as duplicates."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.bench.local_mesh import scrape_metrics
from tests.chaos.event_stream import events_once_published
from tests.chaos.figures import FaultFigures
from tests.chaos.keyed_creates import CreateTally, create_keyed, edge_client, listed_deliveries
from tests.chaos.mesh_faults import all_serving, kill, nats_url, restarted, until
from tests.e2e.conftest import RunningMesh
from tests.e2e.rest import sign_up

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=True), pytest.mark.timeout(300)]

WAVE = 20  # concurrent creates at a time
KILL_AFTER = 60  # deliveries created before NATS is killed
WAVES_AFTER_RESTART = 3
DRAIN_LIMIT_SECONDS = 60.0


async def test_nats_killed_mid_stream_comes_back_and_the_outbox_drains_one_event_each(
    mesh: RunningMesh, figures: FaultFigures
) -> None:
    await all_serving(mesh)
    token = await asyncio.to_thread(
        sign_up, mesh.base, "chaos-nats-kill@example.com", "ROLE_CUSTOMER"
    )
    tally = CreateTally()
    nats_back = asyncio.Event()
    async with edge_client(mesh.base, WAVE) as client:

        async def keep_creating() -> int:
            """Waves of creates until NATS is back and a few waves more; returns how many."""
            waves = after_restart = 0
            while after_restart < WAVES_AFTER_RESTART:
                keys = [f"nats-kill-{waves}-{n}" for n in range(WAVE)]
                await create_keyed(client, token, keys, tally)
                waves += 1
                after_restart += nats_back.is_set()
            return waves * WAVE

        creating = asyncio.create_task(keep_creating())
        await until(lambda: len(tally.delivery_of) >= KILL_AFTER, 60, "the first creates")
        victim = kill(mesh, "nats")
        before_kill = len(tally.delivery_of)
        back = await restarted(mesh, victim)
        while_down = len(tally.delivery_of) - before_kill
        nats_back.set()
        cases = await creating
        listed = await listed_deliveries(client, token)
    created = set(tally.delivery_of.values())
    events = await events_once_published(nats_url(mesh), "lastmile.delivery.created", created)
    pending = await _outbox_pending_once_drained(mesh)
    figures.record(
        cases=cases,
        created_before_kill=before_kill,
        created_while_nats_down=while_down,
        lost=cases - len(created),
        duplicated=len(listed) - len(created),
        events=sum(events[d] for d in created),
        events_missing=sum(1 for d in created if events[d] == 0),
        events_duplicated=sum(1 for d in created if events[d] > 1),
        outbox_pending=pending,
        answers=dict(tally.answers),
        nats_restarts=back.restarts,
    )

    assert tally.failed == {}, f"creates that failed: {tally.failed}"
    assert len(created) == cases
    assert sorted(listed) == sorted(created)
    assert pending == 0, "the outbox relay did not drain after NATS came back"
    assert {d: events[d] for d in created} == dict.fromkeys(created, 1)


async def _outbox_pending_once_drained(mesh: RunningMesh) -> int:
    """orders' lastmile_outbox_pending gauge, once it reads 0 or the limit has passed."""
    give_up = time.monotonic() + DRAIN_LIMIT_SECONDS
    while True:
        samples = await asyncio.to_thread(scrape_metrics, mesh.ports.admin("orders"))
        pending = int(samples["lastmile_outbox_pending"])
        if pending == 0 or time.monotonic() > give_up:
            return pending
        await asyncio.sleep(0.5)
