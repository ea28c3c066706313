"""create-delivery-rest: POST /v1/deliveries through the Envoy edge, as a freshly registered
customer, at a fixed concurrency, with the whole mesh on this machine; and how far the
orders outbox relay trails behind (orders' own lastmile_outbox_* gauges).

Every request creates a new delivery: it carries a unique Idempotency-Key, as a real
client's would, so the edge checks the token, orders asks pricing for the price and
writes the delivery and its outbox row in one transaction, and the relay publishes it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean, median
from typing import Any

from services.devstack.launcher import LocalMesh
from tests.bench import cpu_split, wrk
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.cpu_split import CpuSplit
from tests.bench.h2load import LoadFailed
from tests.bench.local_mesh import Edge, describe_mesh, running_mesh, scrape_metrics
from tests.bench.machine import describe_machine
from tests.bench.wrk import RestLoad, RestRun

CONNECTIONS = 32
TARGET_PER_SECOND = 600
TARGET_P99_MS = 50.0
DRAIN_LIMIT_SECONDS = 120.0
ROW = "{:<6} {:>9} {:>8} {:>8} {:>9} {:>8} {:>14} {:>10}"
HEADER = (
    "round",
    "req/s",
    "p50 ms",
    "p99 ms",
    "requests",
    "non-2xx",
    "outbox pending",
    "max lag s",
)


@dataclass(frozen=True)
class Round:
    """One measured run, the outbox when it ended and the worst relay lag seen during it."""

    load: RestRun
    outbox_pending: int
    max_lag_seconds: float
    busy_cores: dict[str, float]


def delivery_body() -> dict[str, Any]:
    """A small standard parcel across Berlin-Mitte, as a REST client posts it."""
    return {
        "pickup": {
            "address": "Alexanderplatz 1, 10178 Berlin",
            "point": {"latitude": 52.5219, "longitude": 13.4132},
            "contact": {"name": "Shop", "phone": "+4930123456"},
        },
        "dropoff": {
            "address": "Invalidenstraße 50, 10115 Berlin",
            "point": {"latitude": 52.5319, "longitude": 13.4132},
            "contact": {"name": "Ada Lovelace", "phone": "+4915112345678"},
        },
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1000},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }


def run(shape: LoadShape) -> None:
    print("create-delivery-rest: POST /v1/deliveries through the Envoy edge (whole mesh)")
    print(f"machine: {describe_machine()}, {wrk.wrk_version()}")
    print(
        f"load:    wrk -t {min(shape.threads, CONNECTIONS)} -c {CONNECTIONS} (fixed), "
        f"{shape.rounds} rounds x {shape.duration_seconds:g} s "
        f"(+{shape.warm_up_seconds:g} s warm-up each); nothing pinned"
    )
    with tempfile.TemporaryDirectory(prefix="bench-create-delivery-rest-") as scratch:
        rounds, caught_up = asyncio.run(_measure(shape, Path(scratch)))
    _print_summary(rounds, caught_up)
    problems = [r.load.problems() for r in rounds if r.load.problems()]
    if problems:
        raise LoadFailed(f"CreateDelivery over REST: {'; '.join(problems)}")


async def _measure(shape: LoadShape, work: Path) -> tuple[list[Round], float]:
    async with running_mesh(work / "mesh") as mesh:
        print(f"mesh:    {describe_mesh(mesh)}")
        edge = Edge(mesh.ports.edge)
        body = work / "delivery.json"
        body.write_text(json.dumps(delivery_body()))
        load = RestLoad(
            f"{edge.base_url}/v1/deliveries",
            body,
            '"deliveryId"',
            token=await asyncio.to_thread(edge.register_customer),
        )
        meter = CpuSplit({c.name: c.pid for c in mesh.components if c.pid is not None})
        print("\nper round (outbox: pending when the round ended, worst lag during it):")
        print(ROW.format(*HEADER))
        rounds = []
        for number in range(1, shape.rounds + 1):
            if shape.warm_up_seconds > 0:
                await asyncio.to_thread(_drive, load, shape, shape.warm_up_seconds)
            measured = await _measured_round(load, shape, mesh, meter)
            rounds.append(measured)
            print(_row(str(number), [measured]))
            print(f"       cpu: {cpu_split.describe(measured.busy_cores)}", flush=True)
        return rounds, await _time_to_drain(mesh)


def _drive(load: RestLoad, shape: LoadShape, seconds: float) -> RestRun:
    # Keys unique across runs too: a repeated key would replay a delivery, not create one.
    keyed = replace(load, idempotency_key_prefix=f"bench-{uuid.uuid4().hex[:12]}")
    return wrk.drive(
        keyed, connections=CONNECTIONS, threads=shape.threads, duration_seconds=seconds
    )


async def _measured_round(
    load: RestLoad, shape: LoadShape, mesh: LocalMesh, meter: CpuSplit
) -> Round:
    before = meter.sample()
    running = asyncio.ensure_future(asyncio.to_thread(_drive, load, shape, shape.duration_seconds))
    max_lag = 0.0
    while not running.done():
        max_lag = max(max_lag, (await _outbox(mesh))[1])
        await asyncio.wait([running], timeout=0.5)
    busy = CpuSplit.busy_cores(before, meter.sample())
    pending, lag = await _outbox(mesh)
    return Round(running.result(), pending, max(max_lag, lag), busy)


async def _outbox(mesh: LocalMesh) -> tuple[int, float]:
    """orders' relay gauges: unpublished events and the age of the oldest, in seconds."""
    samples = await asyncio.to_thread(scrape_metrics, mesh.ports.admin("orders"))
    return int(samples["lastmile_outbox_pending"]), samples["lastmile_outbox_lag_seconds"]


async def _time_to_drain(mesh: LocalMesh) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (await _outbox(mesh))[0] > 0:
        if loop.time() - started > DRAIN_LIMIT_SECONDS:
            raise LoadFailed(f"the outbox relay did not catch up in {DRAIN_LIMIT_SECONDS:g} s")
        await asyncio.sleep(0.1)
    return loop.time() - started


def _row(label: str, rounds: list[Round], with_outbox: bool = True) -> str:
    # Throughput is the mean of the rounds, percentiles the median of the rounds' own.
    return ROW.format(
        label,
        f"{mean(r.load.requests_per_second for r in rounds):.1f}",
        f"{median(r.load.p50_ms for r in rounds):.2f}",
        f"{median(r.load.p99_ms for r in rounds):.2f}",
        sum(r.load.requests for r in rounds),
        sum(r.load.not_2xx for r in rounds),
        f"{rounds[-1].outbox_pending}" if with_outbox else "",
        f"{max(r.max_lag_seconds for r in rounds):.2f}" if with_outbox else "",
    )


def _print_summary(rounds: list[Round], caught_up: float) -> None:
    print("\nall rounds (req/s: mean of rounds; p50/p99: median of rounds):")
    print(ROW.format(*HEADER[:6], "", ""))
    print(_row("all", rounds, with_outbox=False))
    print(f"outbox relay caught up {caught_up:.2f} s after the last round")
    rate = mean(r.load.requests_per_second for r in rounds)
    p99 = median(r.load.p99_ms for r in rounds)
    met = rate >= TARGET_PER_SECOND and p99 < TARGET_P99_MS
    print(
        f"\ntarget >= {TARGET_PER_SECOND} deliveries/s with p99 < {TARGET_P99_MS:g} ms "
        f"on 2 cores: {'meets target' if met else 'MISSES target'} "
        f"({rate:.1f}/s, p99 {p99:.2f} ms)"
    )


CREATE_DELIVERY_REST = Benchmark(
    name="create-delivery-rest",
    summary=f"POST /v1/deliveries through the edge at {CONNECTIONS} connections, outbox lag",
    run=run,
)
