"""dispatch-latency: deliveries created at a steady rate, and how long until the first
offer reaches a courier (create → offered), with the whole delivery path running.

Real PostgreSQL and NATS JetStream; pricing, orders, dispatch and fleet each as its own
process (tests/bench/fleet_stack.py); nothing pinned. One load generator process
(tests/bench/courier_load.py) first brings --couriers courier sessions online straight
on fleet (with the metadata the edge forwards), spread over a 14 km box of Berlin, each
sending a fix every few seconds; then it creates deliveries through orders'
CreateDelivery (as a merchant, pickups spread over the same box) at --rate per second,
open loop: --warm-up seconds unmeasured, then one measured window of
--rounds x --duration seconds.

The couriers accept every offer at once, confirm the pickup as soon as they are assigned
and the drop-off as soon as that is acked, so each is IDLE again after one cycle and
capacity never runs out, and every delivery needs exactly one offer. (Declining instead
would not keep it at one: dispatch offers a declined delivery to the next nearest
courier at once, so with every courier declining each delivery would be offered to
every courier in range, and the queue would only grow.) The price is that the run
carries a delivery's whole lifecycle (AssignCourier, MarkPickedUp, MarkDelivered and
fleet's status writes), which is what 300 deliveries/s means in a steady state anyway.

create → offered is measured per delivery in the generator, on one monotonic clock: the
moment its courier received the Offer minus the moment the create call was sent. dispatch's
own lastmile_dispatch_create_to_offer_seconds histogram (create_time → offer sent to
fleet, bucket bounds only) is reported beside it, and the CPU each process used.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from statistics import quantiles
from typing import Any

from tests.bench import cpu_split
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.courier_processes import (
    bucket_delta,
    counter,
    describe_bound,
    histogram,
    load_command,
    running_generators,
    wait_for_event,
)
from tests.bench.cpu_split import CpuSplit
from tests.bench.delivery_cost import DeliveryCost
from tests.bench.fleet_stack import FleetStack, fleet_stack, raise_fd_limit
from tests.bench.machine import describe_machine, load_average

GOAL_RATE = 300.0
GOAL_P99_SECONDS = 0.2
PING_SECONDS = 5.0
STREAMS_PER_CHANNEL = 100
DRAIN_SECONDS = 15.0
HISTOGRAM = "lastmile_dispatch_create_to_offer_seconds"
OFFERS = "lastmile_dispatch_offers_total"
OUTCOMES = (
    "offered",
    "accepted",
    "declined",
    "timed_out",
    "undeliverable",
    "assigned",
    "assignment_failed",
    "cancelled",
)


def run(shape: LoadShape) -> None:
    window = shape.rounds * shape.duration_seconds
    print(
        f"dispatch-latency: {shape.deliveries_per_second:g} deliveries/s through orders' "
        f"CreateDelivery, {shape.couriers} couriers on fleet; create -> first offer"
    )
    print(f"machine: {describe_machine()}")
    print(f"         load average {load_average()} before the start")
    print(raise_fd_limit())
    print(
        f"load:    1 generator process (grpc.aio): {shape.couriers} courier sessions, a fix "
        f"each every {PING_SECONDS:g} s, accept + pick up + drop off at once; creates open "
        f"loop, {shape.warm_up_seconds:g} s warm-up, then a {window:g} s window "
        f"(--rounds x --duration); nothing pinned"
    )
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-latency-") as scratch:
        asyncio.run(_measure(shape, Path(scratch), window))


def _command(shape: LoadShape, stack: FleetStack, window: float) -> list[str]:
    return load_command(
        [
            "--fleet",
            stack.target("fleet"),
            "--orders",
            stack.target("orders"),
            "--sessions",
            str(shape.couriers),
            "--ping-seconds",
            str(PING_SECONDS),
            "--streams-per-channel",
            str(STREAMS_PER_CHANNEL),
            "--ramp",
            str(shape.ramp_per_second),
            "--react",
            "complete",
            "--create-rate",
            str(shape.deliveries_per_second),
            "--warm-up",
            str(shape.warm_up_seconds),
            "--duration",
            str(window),
            "--settle",
            "3",
            "--drain",
            str(DRAIN_SECONDS),
            "--seed",
            "1",
        ]
    )


async def _measure(shape: LoadShape, work: Path, window: float) -> None:
    async with fleet_stack(work) as stack:
        pids = stack.pids
        print(f"stack:   {', '.join(f'{name} {pid}' for name, pid in pids.items())}")
        async with running_generators([_command(shape, stack, window)], cpus="", logs=work) as load:
            generator = load.generators[0]
            print(f"         load generator {generator.pid}")
            ramp_limit = shape.couriers / shape.ramp_per_second * 4 + 120
            online = await wait_for_event(generator, "online", within=ramp_limit)
            print(
                f"\nramp:    {online['online']} of {shape.couriers} couriers online "
                f"({online['session_failures']} failed)",
                flush=True,
            )
            meter = CpuSplit({**pids, "generator": generator.pid})
            start = await wait_for_event(
                generator, "window", within=60 + shape.warm_up_seconds, phase="start"
            )
            dispatch0, cpu0 = await _scrape(stack), meter.sample()
            end = await wait_for_event(generator, "window", within=window + 60, phase="end")
            dispatch1, cpu1 = await _scrape(stack), meter.sample()
            busy = CpuSplit.busy_cores(cpu0, cpu1)
            busy.pop(cpu_split.LOAD_GENERATOR, None)
            cost = DeliveryCost.of((cpu0, cpu1), int(end["delivered"]) - int(start["delivered"]))
            result = await wait_for_event(generator, "result", within=DRAIN_SECONDS + 30)
            queue = counter(await _scrape(stack), "lastmile_dispatch_queue_length")
        print(f"         load average {load_average()} at the end")
        _report(shape, start, end, result, dispatch0, dispatch1, busy, queue, cost)


async def _scrape(stack: FleetStack) -> str:
    return await asyncio.to_thread(stack.metrics_text, "dispatch")


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return quantiles(values, n=100, method="inclusive")[q - 1]


def _report(
    shape: LoadShape,
    start: dict[str, Any],
    end: dict[str, Any],
    result: dict[str, Any],
    dispatch0: str,
    dispatch1: str,
    busy: dict[str, float],
    queue: float,
    cost: DeliveryCost,
) -> None:
    def delta(name: str) -> float:
        return float(end[name]) - float(start[name])

    wall = float(end["t"]) - float(start["t"])
    latencies: list[float] = sorted(result["latencies"])
    missing = int(result["missing"])
    buckets = bucket_delta(histogram(dispatch0, HISTOGRAM), histogram(dispatch1, HISTOGRAM))
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    sent_rate = delta("creates_sent") / wall
    outcomes = {
        outcome: counter(dispatch1, OFFERS, f'outcome="{outcome}"')
        - counter(dispatch0, OFFERS, f'outcome="{outcome}"')
        for outcome in OUTCOMES
    }
    print(
        f"\nwindow {wall:.1f} s: creates sent {sent_rate:.1f}/s, answered OK "
        f"{delta('creates_ok') / wall:.1f}/s, failed {delta('creates_failed'):.0f}; "
        f"offers received {delta('offers') / wall:.1f}/s, delivered "
        f"{delta('delivered') / wall:.1f}/s"
    )
    print(
        f"create -> offered (generator clock, {len(latencies)} measured deliveries, "
        f"{missing} without an offer {DRAIN_SECONDS:g} s after the window): "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max "
        f"{(latencies[-1] if latencies else float('nan')) * 1000:.1f} ms"
    )
    print(
        f"dispatch's {HISTOGRAM} (create_time -> offer sent to fleet, over the window): "
        f"{describe_bound(buckets, 0.5)}, {describe_bound(buckets, 0.99)}"
    )
    print(
        "dispatch offers over the window: "
        + ", ".join(f"{name} {count:.0f}" for name, count in outcomes.items() if count)
    )
    print(f"dispatch queue length after the drain: {queue:.0f}")
    print(f"cpu over the window: {cpu_split.describe(busy)}")
    print(
        "cpu-ms per delivered delivery over the window (gross: the couriers' pings count; "
        f"`delivery-cost` nets out the idle floor): {DeliveryCost.describe(cost.gross)}"
    )
    print(
        f"generator: {result['session_failures']} sessions failed, "
        f"{result['message_errors']} MessageErrors, {result['cancellations']} offer "
        f"cancellations, {result['closings']} SessionClosing"
    )
    for error in result.get("errors", []) or []:
        print(f"  generator saw: {error}")
    met = sent_rate >= GOAL_RATE * 0.98 and missing == 0 and p99 < GOAL_P99_SECONDS
    print(
        f"\ngoal p99 create -> offered < {GOAL_P99_SECONDS * 1000:.0f} ms at "
        f"{GOAL_RATE:.0f} deliveries/s on 2 cores: {'met' if met else 'NOT MET'} "
        f"({sent_rate:.1f}/s created, p99 {p99 * 1000:.1f} ms, {missing} never offered)"
    )


DISPATCH_LATENCY = Benchmark(
    name="dispatch-latency",
    summary="deliveries/s through orders, couriers accepting at once: create -> offer p50/p99",
    run=run,
    tools=(),
)
