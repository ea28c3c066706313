"""Fault: orders is killed with SIGKILL while 200 customers' keyed creates are in flight.
Clients retry with the same Idempotency-Key, the supervisor restarts orders, and every key
ends up with exactly one delivery and exactly one delivery.created event."""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.event_stream import events_once_published
from tests.chaos.figures import FaultFigures
from tests.chaos.keyed_creates import CreateTally, create_keyed, edge_client, listed_deliveries
from tests.chaos.mesh_faults import all_serving, kill, nats_url, restarted, until
from tests.e2e.conftest import RunningMesh
from tests.e2e.rest import sign_up

pytestmark = [pytest.mark.slow, pytest.mark.chaos(ci=True), pytest.mark.timeout(300)]

CREATES = 200
# Killed once this many creates have their delivery: the rest are in flight.
KILL_AFTER = 40


async def test_orders_killed_under_200_keyed_creates_loses_and_duplicates_none(
    mesh: RunningMesh, figures: FaultFigures
) -> None:
    await all_serving(mesh)
    token = await asyncio.to_thread(
        sign_up, mesh.base, "chaos-orders-kill@example.com", "ROLE_CUSTOMER"
    )
    keys = [f"orders-kill-{n}" for n in range(CREATES)]
    tally, replay = CreateTally(), CreateTally()
    async with edge_client(mesh.base, CREATES) as client:
        creating = asyncio.create_task(create_keyed(client, token, keys, tally))
        await until(lambda: len(tally.delivery_of) >= KILL_AFTER, 60, "the first creates")
        victim = kill(mesh, "orders")
        in_flight = CREATES - len(tally.delivery_of)
        back = await restarted(mesh, victim)
        await creating
        # The same keys once more, now that orders is back: each returns its delivery.
        await create_keyed(client, token, keys, replay)
        listed = await listed_deliveries(client, token)
    created = set(tally.delivery_of.values())
    events = await events_once_published(nats_url(mesh), "lastmile.delivery.created", created)
    figures.record(
        cases=CREATES,
        in_flight_at_kill=in_flight,
        lost=CREATES - len(tally.delivery_of),
        duplicated=len(listed) - len(created),
        events=sum(events[d] for d in created),
        events_missing=sum(1 for d in created if events[d] == 0),
        events_duplicated=sum(1 for d in created if events[d] > 1),
        answers=dict(tally.answers),
        server_errors=tally.server_errors,
        retry_info_503=tally.retry_info_503,
        orders_restarts=back.restarts,
    )

    assert in_flight > 0, "every create had finished before orders was killed"
    assert tally.failed == {}, f"keys that never got their delivery: {tally.failed}"
    assert len(created) == CREATES, "two keys were given the same delivery"
    assert replay.delivery_of == tally.delivery_of, "a replayed key got another delivery"
    assert sorted(listed) == sorted(created), "the list holds other deliveries than created"
    assert {d: events[d] for d in created} == dict.fromkeys(created, 1)
    # The edge's own 503s (orders dead) say when to retry, as orders' own UNAVAILABLE does.
    assert tally.server_errors.keys() <= {"503"}, tally.server_errors
    assert tally.retry_info_503 == tally.answers["503"]
