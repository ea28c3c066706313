"""End to end with replicas: `make run REPLICAS=...` runs two processes of every service;
calls are balanced per request (the edge's clusters, the services' round_robin channels, and
in sidecar mode each sidecar's outbound cluster); a replica killed or drained costs no call;
what must be single per database (the outbox relay, dispatch's matcher) stays single, and a
batch of deliveries runs end to end with every event published once.

One mesh per mode serves every test of the module."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.components import SERVICES
from tests.chaos.event_stream import events_once_published, events_per_delivery
from tests.chaos.keyed_creates import CreateTally, create_keyed, edge_client, listed_deliveries
from tests.e2e.conftest import RunningMesh, start_mesh, stop_mesh
from tests.e2e.replica_metrics import (
    counter,
    edge_stat,
    grew,
    handled,
    health,
    published,
    spread,
)
from tests.e2e.rest import call, delivery_request, sign_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EVERY_SERVICE_TWICE = ",".join(f"{spec.name}=2" for spec in SERVICES)
PRICING = ("lastmile.pricing.v1.PricingService", "CreateQuote")
CREATE = ("lastmile.orders.v1.OrdersService", "CreateDelivery")
LIST = ("lastmile.orders.v1.OrdersService", "ListDeliveries")
MATCHER = "lastmile.dispatch.v1.DispatchInternalService"
# Sign-ups and log-ins of the simulated city; the edge's default bucket is for attackers.
ENVIRONMENT = {"LASTMILE_EDGE_LOGINS_PER_MINUTE": "6000"}
NATS_EVENTS = ("created", "assigned", "picked_up", "delivered")
# Clients creating at once in the fault tests: at most this many calls are in flight.
WORKERS = 4
# Clients creating at once while an orders replica is killed: enough that calls are in
# flight on it when it dies (the edge counts the connections it closed under them).
CREATES_IN_FLIGHT = 16
CALLS_CUT_AT_ORDERS = "cluster.lastmile_orders.upstream_cx_destroy_remote_with_active_rq"
# A busy machine can leave a replica with no call at the instant it dies; kill it again then.
KILLS_TO_CUT_A_CALL = 3
# Every create of the module has a key of its own, across faults.
KEY_NUMBERS = itertools.count()
# How long a stopped replica stays down: an outage (its port refuses connections), not a blip.
HELD_SECONDS = 2.0


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    """Two processes of every service, calling each other directly."""
    running = start_mesh(
        "direct", tmp_path_factory.mktemp("mesh-replicas"), ENVIRONMENT,
        replicas=EVERY_SERVICE_TWICE,
    )  # fmt: skip
    try:
        yield running
    finally:
        stop_mesh(running)


def create_deliveries(mesh: RunningMesh, token: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        status, created = call(mesh.base, "POST", "/v1/deliveries", delivery_request(), token)
        assert status == 200, created
        ids.append(created["delivery"]["deliveryId"])
    return ids


def test_make_status_lists_every_replica_up_with_its_pid_and_restarts(
    replicated: RunningMesh,
) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "services.devstack", "--state-dir", str(replicated.state_dir),
         "status"], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines()[1:] if line}
    for spec in SERVICES:
        assert replicated.replica_names(spec.name) == [spec.name, f"{spec.name}-1"]
        for k, name in enumerate(replicated.replica_names(spec.name)):
            row = rows[name]
            assert row[1:5] == ["up", "pid", str(replicated.pid_of(name)), "restarts"], row
            assert f"127.0.0.1:{replicated.grpc_port(spec.name, k)}" in row
    banner = replicated.output.read_text()
    assert all(f"  {name} " in banner for name in rows)


def test_the_edge_spreads_creates_over_both_orders_and_orders_spreads_quotes_over_both_pricing(
    replicated: RunningMesh,
) -> None:
    token = sign_up(replicated.base, "spread@example.com", "ROLE_CUSTOMER")
    creates, quotes = (
        handled(replicated, "orders", *CREATE),
        handled(replicated, "pricing", *PRICING),
    )
    create_deliveries(replicated, token, 24)
    served_creates = grew(creates, handled(replicated, "orders", *CREATE))
    served_quotes = grew(quotes, handled(replicated, "pricing", *PRICING))
    assert sum(served_creates) == 24
    assert spread(served_creates)[True] == 2, f"orders replicas served {served_creates}"
    # orders asks pricing for the price of each delivery created without a quote.
    assert sum(served_quotes) == 24
    assert spread(served_quotes)[True] == 2, f"pricing replicas served {served_quotes}"


def test_a_page_token_from_one_orders_replica_is_honoured_by_the_other(
    replicated: RunningMesh,
) -> None:
    token = sign_up(replicated.base, "pages@example.com", "ROLE_CUSTOMER")
    created = set(create_deliveries(replicated, token, 9))
    lists = handled(replicated, "orders", *LIST)
    listed: list[str] = []
    page_token = ""
    for _ in range(20):
        query = f"?pageSize=2{f'&pageToken={page_token}' if page_token else ''}"
        status, page = call(replicated.base, "GET", f"/v1/deliveries{query}", token=token)
        assert status == 200, page
        listed += [delivery["deliveryId"] for delivery in page.get("deliveries", [])]
        page_token = page.get("nextPageToken", "")
        if not page_token:
            break
    assert sorted(listed) == sorted(created)
    assert spread(grew(lists, handled(replicated, "orders", *LIST)))[True] == 2


def test_one_orders_replica_relays_the_outbox_and_one_dispatch_replica_leads(
    replicated: RunningMesh,
) -> None:
    token = sign_up(replicated.base, "single@example.com", "ROLE_CUSTOMER")
    relayed = published(replicated, "orders")
    ids = create_deliveries(replicated, token, 6)
    counts = asyncio.run(
        events_once_published(replicated_nats(replicated), "lastmile.delivery.created", ids)
    )
    assert [counts[delivery] for delivery in ids] == [1] * len(ids)
    assert sorted(grew(relayed, published(replicated, "orders")))[0] == 0
    assert sum(grew(relayed, published(replicated, "orders"))) >= len(ids)
    leaders = [health(replicated, "dispatch", k, MATCHER) for k in range(2)]
    assert sorted(leaders) == ["NOT_SERVING", "SERVING"]


def replicated_nats(mesh: RunningMesh) -> str:
    return f"nats://127.0.0.1:{mesh.ports.nats}"


def test_a_batch_of_deliveries_runs_end_to_end_and_every_event_is_published_once(
    replicated: RunningMesh,
) -> None:
    """The simulator's couriers are spread over both fleet replicas (the edge balances their
    sessions), each fleet replica holds a Link to the dispatch leader, and tracking and
    identity answer from both replicas. Cars carry every parcel size, so every delivery has
    a courier."""
    stats = replicated.state_dir / "simulation.json"
    run = subprocess.run(
        [sys.executable, "-m", "services.simulator", f"--edge={replicated.base}",
         "--couriers=8", "--customers=2", "--rate=3", "--duration=6", "--speedup=100",
         "--accept-probability=1", "--bbox=51.03,13.70,51.07,13.78", "--drain-timeout=90",
         "--seed=1111", "--vehicle-mix=car=1", "--quiet", f"--json={stats}"],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(stats.read_text())
    deliveries = summary["deliveries"]
    assert deliveries["created"] > 0
    assert deliveries["delivered"] == deliveries["created"], summary
    assert summary["failed_creates"] == {}
    sessions = [
        counter(replicated, "fleet", k, "grpc_server_started", grpc_method="Connect",
                grpc_service="lastmile.fleet.v1.CourierSessionService")
        for k in range(2)
    ]  # fmt: skip
    assert spread(sessions)[True] == 2, f"courier sessions per fleet replica: {sessions}"

    counts = {
        kind: asyncio.run(
            events_per_delivery(replicated_nats(replicated), f"lastmile.delivery.{kind}")
        )
        for kind in NATS_EVENTS
    }
    delivered = set(counts["delivered"])
    assert len(delivered) >= deliveries["delivered"]
    for kind in NATS_EVENTS:
        assert {counts[kind][d] for d in delivered} == {1}, f"{kind} events per delivery"
    assert sorted(published(replicated, "fleet"))[0] == 0, "both fleet relays published"


async def steady_creates(
    mesh: RunningMesh, token: str, tally: CreateTally, stop: asyncio.Event, workers: int
) -> None:
    """Creates through the edge, one after the other in each of `workers`, until `stop`."""
    keys = KEY_NUMBERS

    async def work(client_id: int) -> None:
        async with edge_client(mesh.base, 2) as client:
            while not stop.is_set():
                await create_keyed(client, token, [f"steady-{client_id}-{next(keys)}"], tally)
                await asyncio.sleep(0.02)

    await asyncio.gather(*(work(n) for n in range(workers)))


@contextlib.contextmanager
def held(mesh: RunningMesh, *names: str) -> Iterator[None]:
    """Keep `names` down once they exit (the supervisor's hold files) until the block ends."""
    holds = mesh.state_dir / "hold"
    holds.mkdir(exist_ok=True)
    files = [holds / name for name in names]
    for file in files:
        file.touch()
    try:
        yield
    finally:
        for file in files:
            file.unlink(missing_ok=True)


async def fault_under_creates(
    mesh: RunningMesh,
    token: str,
    name: str,
    signum: int,
    workers: int = WORKERS,
    tally: CreateTally | None = None,
) -> CreateTally:
    """A steady stream of creates while replica `name` gets `signum` and stays down for a
    while (the other replica is up all along); the stream ends once `name` is back."""
    tally, stop = tally or CreateTally(), asyncio.Event()
    restarts = mesh.component(name)["restarts"]
    stream = asyncio.create_task(steady_creates(mesh, token, tally, stop, workers))
    with held(mesh, name):
        await asyncio.sleep(1.5)
        os.kill(mesh.pid_of(name), signum)
        await asyncio.sleep(HELD_SECONDS)
    await asyncio.to_thread(mesh.wait_until_back, name, restarts)
    await asyncio.sleep(1.0)
    stop.set()
    await stream
    return tally


def test_a_drained_orders_replica_and_a_killed_pricing_replica_cost_no_call(
    replicated: RunningMesh,
) -> None:
    """Service to service (orders -> pricing) and through the edge (-> orders): no answer
    but 200, since nothing in flight is lost and the other replica takes every call."""
    token = sign_up(replicated.base, "steady@example.com", "ROLE_CUSTOMER")
    for name, signum in [("pricing-1", signal.SIGKILL), ("orders-1", signal.SIGTERM)]:
        tally = asyncio.run(fault_under_creates(replicated, token, name, signum))
        assert tally.answers["200"] > 20
        assert dict(tally.answers) == {"200": tally.answers["200"]}, f"{name}: {tally.answers}"


def test_a_killed_orders_replica_costs_no_create_and_each_key_creates_one_delivery(
    replicated: RunningMesh,
) -> None:
    """kill -9 cuts the creates in flight on the replica. Each carries an Idempotency-Key, so
    the edge sends it again to the other replica after the reset: the client sees only 200s.
    A create the dead replica had committed is answered from its key, so every key names one
    delivery and the customer has exactly one delivery per key."""
    token = sign_up(replicated.base, "killed@example.com", "ROLE_CUSTOMER")
    tally, cut_before = CreateTally(), edge_stat(replicated, CALLS_CUT_AT_ORDERS)
    for _ in range(KILLS_TO_CUT_A_CALL):
        asyncio.run(
            fault_under_creates(
                replicated, token, "orders", signal.SIGKILL, CREATES_IN_FLIGHT, tally
            )
        )
        if edge_stat(replicated, CALLS_CUT_AT_ORDERS) > cut_before:
            break
    assert edge_stat(replicated, CALLS_CUT_AT_ORDERS) > cut_before, "no kill cut a call"
    assert tally.answers["200"] > 20
    assert dict(tally.answers) == {"200": tally.answers["200"]}, f"answers: {tally.answers}"
    assert tally.failed == {}

    listed = asyncio.run(customer_deliveries(replicated, token))
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(tally.delivery_of.values())
    assert len(set(tally.delivery_of.values())) == len(tally.delivery_of)


async def customer_deliveries(mesh: RunningMesh, token: str) -> list[str]:
    async with edge_client(mesh.base, 1) as client:
        return await listed_deliveries(client, token)


@pytest.fixture(scope="module")
def replicated_sidecars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    """Two processes of pricing and orders, each behind its own sidecar."""
    running = start_mesh(
        "sidecars", tmp_path_factory.mktemp("mesh-replicas-sidecars"), ENVIRONMENT,
        replicas="pricing=2,orders=2",
    )  # fmt: skip
    try:
        yield running
    finally:
        stop_mesh(running)


def test_behind_sidecars_every_replica_serves_and_a_killed_one_costs_no_call(
    replicated_sidecars: RunningMesh,
) -> None:
    mesh = replicated_sidecars
    config = json.loads(Path(mesh.state_dir / "sidecars" / "orders-1" / "envoy.json").read_text())
    [pricing] = [
        c for c in config["static_resources"]["clusters"] if c["name"] == "outbound_pricing"
    ]
    endpoints = pricing["load_assignment"]["endpoints"][0]["lb_endpoints"]
    ports = [e["endpoint"]["address"]["socket_address"]["port_value"] for e in endpoints]
    assert ports == [mesh.grpc_port("pricing", 0), mesh.grpc_port("pricing", 1)]

    token = sign_up(mesh.base, "sidecar-spread@example.com", "ROLE_CUSTOMER")
    creates, quotes = handled(mesh, "orders", *CREATE), handled(mesh, "pricing", *PRICING)
    create_deliveries(mesh, token, 16)
    assert spread(grew(creates, handled(mesh, "orders", *CREATE)))[True] == 2
    assert spread(grew(quotes, handled(mesh, "pricing", *PRICING)))[True] == 2

    for name, signum in [("pricing-1", signal.SIGKILL), ("orders-1", signal.SIGTERM)]:
        tally = asyncio.run(fault_under_creates(mesh, token, name, signum))
        assert tally.answers["200"] > 20
        assert dict(tally.answers) == {"200": tally.answers["200"]}, f"{name}: {tally.answers}"
