"""delivery-cost: CPU-milliseconds the mesh spends per delivered delivery (created, offered,
assigned, picked up, delivered), per component and in total, at a fixed rate well under
saturation.

The stack and the load are dispatch-latency's (tests/bench/fleet_stack.py and
tests/bench/courier_load.py, couriers accepting, picking up and dropping off at once), at
--cost-rate deliveries/s with --cost-couriers couriers, tracing at --cost-sample-ratio
(the deployed ratio, as runtime-overhead measures it). Each component's CPU is read from
/proc for its whole process tree (PostgreSQL's backends count as postgres), so load on
other processes of the machine does not count, only the time the mesh's own processes ran.

Two windows: the idle floor first (every courier online and pinging, no delivery: what the
mesh costs without deliveries), then the measured window. The figure is the measured
window's CPU, less the floor's rate over the same time, divided by the deliveries
delivered in it; the gross figure (floor included) is printed beside it. identity,
tracking and the edge are not on this path (the generator calls orders and fleet with
the metadata the edge forwards, and nobody watches), so they are not started.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.courier_processes import load_command, running_generators, wait_for_event
from tests.bench.cpu_split import LOAD_GENERATOR, CpuSample, CpuSplit
from tests.bench.fleet_stack import FleetStack, fleet_stack, raise_fd_limit
from tests.bench.machine import describe_machine, load_average

GOAL_MS = 6.0
PING_SECONDS = 5.0
IDLE_SECONDS = 8.0
DRAIN_SECONDS = 15.0
GENERATOR = "generator"
# The mesh's components, in the order the report lists them.
COMPONENTS = ("orders", "fleet", "dispatch", "pricing", "postgres", "nats")


@dataclass(frozen=True)
class DeliveryCost:
    """CPU seconds per delivered delivery, by component, over one window."""

    delivered: int
    gross: dict[str, float]  # everything the component used in the window
    net: dict[str, float]  # less the idle floor's rate over the same time

    @classmethod
    def of(
        cls,
        window: tuple[CpuSample, CpuSample],
        delivered: int,
        floor: Mapping[str, float] | None = None,
    ) -> DeliveryCost:
        """`floor` is busy cores without deliveries (CpuSplit.busy_cores of an idle window)."""
        before, after = window
        wall = after.at - before.at
        count = max(delivered, 1)
        gross, net = {}, {}
        for name in after.seconds:
            if name in (LOAD_GENERATOR, GENERATOR):
                continue
            used = max(0.0, after.seconds[name] - before.seconds.get(name, 0.0))
            idle = (floor or {}).get(name, 0.0) * wall
            gross[name] = used / count
            net[name] = max(0.0, used - idle) / count
        return cls(delivered, gross, net)

    @staticmethod
    def describe(per_delivery: Mapping[str, float]) -> str:
        ordered = [n for n in COMPONENTS if n in per_delivery]
        ordered += [n for n in per_delivery if n not in ordered]
        parts = [f"{name} {per_delivery[name] * 1000:.2f}" for name in ordered]
        return f"{', '.join(parts)}; total {sum(per_delivery.values()) * 1000:.2f} ms"


def run(shape: LoadShape) -> None:
    window = shape.rounds * shape.duration_seconds
    print(
        f"delivery-cost: mesh CPU-ms per delivered delivery at {shape.cost_rate:g} deliveries/s "
        f"through orders' CreateDelivery, {shape.cost_couriers} couriers on fleet"
    )
    print(f"machine: {describe_machine()}")
    print(f"         load average {load_average()} before the start")
    print(raise_fd_limit())
    print(
        f"load:    1 generator process: {shape.cost_couriers} courier sessions, a fix each "
        f"every {PING_SECONDS:g} s, accept + pick up + drop off at once; an idle floor of "
        f"{IDLE_SECONDS:g} s, then creates open loop, {shape.warm_up_seconds:g} s warm-up "
        f"and a {window:g} s window (--rounds x --duration); nothing pinned; identity, "
        f"tracking and the edge are not on this path and not started"
    )
    print(
        f"tracing: {shape.cost_sample_ratio:.0%} of traces sampled in every service (the deployed "
        "ratio by default; --cost-sample-ratio 1 for development's every trace)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-delivery-cost-") as scratch:
        asyncio.run(_measure(shape, Path(scratch), window))


def _command(shape: LoadShape, stack: FleetStack, window: float) -> list[str]:
    return load_command(
        [
            *("--fleet", stack.target("fleet"), "--orders", stack.target("orders")),
            *("--sessions", str(shape.cost_couriers), "--ping-seconds", str(PING_SECONDS)),
            *("--ramp", str(shape.ramp_per_second), "--react", "complete"),
            *("--create-rate", str(shape.cost_rate), "--warm-up", str(shape.warm_up_seconds)),
            *("--duration", str(window), "--settle", str(IDLE_SECONDS + 2)),
            *("--drain", str(DRAIN_SECONDS), "--seed", "1"),
        ]
    )


async def _measure(shape: LoadShape, work: Path, window: float) -> None:
    async with fleet_stack(work, trace_sample_ratio=shape.cost_sample_ratio) as stack:
        print(f"stack:   {', '.join(f'{name} {pid}' for name, pid in stack.pids.items())}")
        async with running_generators([_command(shape, stack, window)], cpus="", logs=work) as load:
            generator = load.generators[0]
            ramp_limit = shape.cost_couriers / shape.ramp_per_second * 4 + 120
            online = await wait_for_event(generator, "online", within=ramp_limit)
            print(
                f"ramp:    {online['online']} of {shape.cost_couriers} couriers online "
                f"({online['session_failures']} failed)",
                flush=True,
            )
            meter = CpuSplit({**stack.pids, GENERATOR: generator.pid})
            await asyncio.sleep(1.0)  # the last go-online writes settle
            idle0 = meter.sample()
            await asyncio.sleep(IDLE_SECONDS)
            idle1 = meter.sample()
            start = await wait_for_event(
                generator, "window", within=60 + shape.warm_up_seconds, phase="start"
            )
            cpu0 = meter.sample()
            end = await wait_for_event(generator, "window", within=window + 60, phase="end")
            cpu1 = meter.sample()
            result = await wait_for_event(generator, "result", within=DRAIN_SECONDS + 30)
    floor = CpuSplit.busy_cores(idle0, idle1)
    wall = float(end["t"]) - float(start["t"])
    delivered = int(end["delivered"]) - int(start["delivered"])
    created = int(end["creates_ok"]) - int(start["creates_ok"])
    cost = DeliveryCost.of((cpu0, cpu1), delivered, floor)
    mesh_floor = {n: c for n, c in floor.items() if n not in (LOAD_GENERATOR, GENERATOR)}
    busy = CpuSplit.busy_cores(cpu0, cpu1)
    mesh_busy = {n: c for n, c in busy.items() if n not in (LOAD_GENERATOR, GENERATOR)}
    print(f"         load average {load_average()} at the end")
    print(
        f"\nwindow {wall:.1f} s: created {created / wall:.1f}/s, delivered "
        f"{delivered / wall:.1f}/s ({delivered} deliveries), failed creates "
        f"{int(end['creates_failed']) - int(start['creates_failed'])}, "
        f"{result['missing']} never offered"
    )
    print(f"idle floor (busy cores, no deliveries): {_cores(mesh_floor)}")
    print(
        f"busy cores over the window: {_cores(mesh_busy)}; generator {busy.get(GENERATOR, 0.0):.2f}"
    )
    print(f"cpu-ms per delivered delivery, gross: {DeliveryCost.describe(cost.gross)}")
    print(f"cpu-ms per delivered delivery, net of the floor: {DeliveryCost.describe(cost.net)}")
    if created and abs(delivered - created) > 0.05 * created:
        print(
            f"  not steady: {created} created but {delivered} delivered in the window (a busy "
            "machine?); the work of the difference is in the figures"
        )
    for error in result.get("errors", []) or []:
        print(f"  generator saw: {error}")
    total = sum(cost.net.values()) * 1000
    print(
        f"\ngoal mesh CPU per delivered delivery <= {GOAL_MS:g} ms: "
        f"{'met' if total <= GOAL_MS else 'NOT MET'} ({total:.2f} ms net of the idle floor)"
    )


def _cores(busy: Mapping[str, float]) -> str:
    parts = [f"{name} {busy[name]:.3f}" for name in COMPONENTS if name in busy]
    return f"{', '.join(parts)}; total {sum(busy.values()):.2f} of {os.cpu_count()} cores"


DELIVERY_COST = Benchmark(
    name="delivery-cost",
    summary="mesh CPU-ms per delivered delivery, per component, at a fixed rate",
    run=run,
    tools=(),
)
