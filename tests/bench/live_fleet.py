"""live-fleet: K concurrent courier sessions on one fleet replica, each sending one
location fix every P seconds, and what reaches dispatch's index.

Real PostgreSQL and NATS JetStream; pricing, orders, dispatch and fleet each as its own
process (tests/bench/fleet_stack.py), fleet pinned to one CPU; the sessions come from
load generator process(es) on the other CPU (tests/bench/courier_load.py), straight to
fleet's port with the metadata the edge forwards (the edge is not measured here). The
sessions are opened gradually, at most PENDING_SESSIONS not yet online (fleet writes
each connect and go-online to PostgreSQL); once all are online and the ramp's backlog
has drained (dispatch's index holds every online courier and fleet reads fixes as fast
as they are sent), each round measures over --duration seconds:

- fixes/s sent by the generators, received by fleet (lastmile_fleet_location_updates)
  and applied to dispatch's index (lastmile_dispatch_position_updates_total);
- update → index latency, from the lastmile_dispatch_position_index_latency_seconds
  histogram's change over the round: a bucket bound, not an exact figure;
- CPU of every process (whole process trees), in busy cores.

Resident memory per session is fleet's VmRSS once every session is online minus its
VmRSS before the first one, divided by the sessions online; the growth is also split by
mapping (tests/bench/memory.py): grpc core's threads' malloc arenas, the main thread's
heap and other anonymous memory (pymalloc), i.e. roughly grpc core against Python.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench import cpu_split
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.courier_processes import (
    GeneratorGroup,
    LoadGeneratorFailed,
    bucket_delta,
    counter,
    describe_bound,
    histogram,
    load_command,
    quantile_bound,
    running_generators,
    share_at_most,
)
from tests.bench.cpu_split import CpuSplit
from tests.bench.fleet_stack import FleetStack, fleet_stack, raise_fd_limit, rss_bytes
from tests.bench.machine import MachineCpu, describe_machine, load_average
from tests.bench.memory import RESIDENT_PARTS, resident_parts_kib

GOAL_SESSIONS = 10_000
GOAL_UPDATES_PER_SECOND = 10_000.0
GOAL_P99_SECONDS = 0.1
GOAL_KIB_PER_SESSION = 30.0
STREAMS_PER_CHANNEL = 100
# Sessions opened but not yet online, over all generators. grpc.aio's server accepts one
# new call per turn of its event loop, and grpc core cancels a call that waits longer
# than 30 s (grpc.server_max_unrequested_time_in_server) before it is accepted: with
# 2,000 waiting (500 per generator) and fleet accepting ~100/s on a loaded machine, the
# tail of every burst was CANCELLED before SessionStarted. A small window keeps the
# ramp about as fast as fleet accepts; a session cancelled all the same reconnects
# (courier_load.START_ATTEMPTS), as the app does.
PENDING_SESSIONS = 256
# Steady state: the ramp's backlog (session starts, GoOnline writes, their Link
# messages) is drained once dispatch's index holds every online courier and fleet reads
# the fixes as fast as the generators send them (within STEADY_SHARE either way: faster
# is a backlog still being read), over STEADY_WINDOWS windows in a row.
STEADY_WINDOW_SECONDS = 2.0
RAMP_STALL_SECONDS = 60.0
STEADY_WINDOWS = 3
STEADY_SHARE = 0.95
STEADY_WITHIN_SECONDS = 120.0
LATENCY = "lastmile_dispatch_position_index_latency_seconds"
APPLIED = "lastmile_dispatch_position_updates_total"
RECEIVED = "lastmile_fleet_location_updates_total"
ROW = "{:<6} {:>10} {:>10} {:>10} {:>26} {:>9}"
# One generator process per this many sessions unless --load-processes says otherwise: a
# single grpc.aio process saturated its core at 10,000 sessions, so its own queueing could
# not be told apart from fleet's.
SESSIONS_PER_GENERATOR = 2_500
# A process this busy (in cores) has no slack left: its queueing adds to the latency.
SATURATED_CORES = 0.9
OTHERS = "everything else"


def generator_processes(shape: LoadShape) -> int:
    wanted = shape.load_processes or math.ceil(shape.sessions / SESSIONS_PER_GENERATOR)
    return max(1, min(wanted, shape.sessions))


@dataclass(frozen=True)
class Round:
    sent_per_second: float
    received_per_second: float
    applied_per_second: float
    latency_buckets: dict[float, float]
    busy_cores: dict[str, float]


def run(shape: LoadShape) -> None:
    print(
        f"live-fleet: {shape.sessions} courier sessions, one fix each every "
        f"{shape.ping_seconds:g} s, straight to fleet; what reaches dispatch's index"
    )
    print(f"machine: {describe_machine()}")
    print(f"         load average {load_average()} before the start")
    print(raise_fd_limit())
    print(
        f"load:    {generator_processes(shape)} generator process(es), grpc.aio, "
        f"{STREAMS_PER_CHANNEL} streams per channel, ramp {shape.ramp_per_second:g} sessions/s; "
        f"{shape.rounds} rounds x {shape.duration_seconds:g} s; fleet on CPU "
        f"{shape.server_cpus or 'any'}, generators on CPU {shape.load_cpus or 'any'}, "
        f"the rest unpinned"
    )
    with tempfile.TemporaryDirectory(prefix="bench-live-fleet-") as scratch:
        asyncio.run(_measure(shape, Path(scratch)))


def _commands(shape: LoadShape, stack: FleetStack) -> list[list[str]]:
    processes = generator_processes(shape)
    share, extra = divmod(shape.sessions, processes)
    commands = []
    for number in range(processes):
        sessions = share + (1 if number < extra else 0)
        commands.append(
            load_command(
                [
                    "--fleet",
                    stack.target("fleet"),
                    "--sessions",
                    str(sessions),
                    "--ping-seconds",
                    str(shape.ping_seconds),
                    "--streams-per-channel",
                    str(STREAMS_PER_CHANNEL),
                    "--ramp",
                    str(shape.ramp_per_second / processes),
                    "--pending",
                    str(max(1, PENDING_SESSIONS // processes)),
                    "--seed",
                    str(number),
                ]
            )
        )
    return commands


async def _scrape(stack: FleetStack, service: str) -> str:
    return await asyncio.to_thread(stack.metrics_text, service)


async def _measure(shape: LoadShape, work: Path) -> None:
    async with fleet_stack(work, fleet_cpus=shape.server_cpus) as stack:
        pids = stack.pids
        print(f"stack:   {', '.join(f'{name} {pid}' for name, pid in pids.items())}")
        await _wait_for_link(stack)
        fleet_before, dispatch_before = rss_bytes(pids["fleet"]), rss_bytes(pids["dispatch"])
        parts_before = resident_parts_kib(pids["fleet"])
        async with running_generators(
            _commands(shape, stack), cpus=shape.load_cpus, logs=work
        ) as load:
            print(f"         load generator(s) {', '.join(map(str, load.pids))}")
            ramp = await _ramp(shape, load)
            online = load.total("online")
            slowest_start = load.maximum("slowest_start_ms") / 1000
            print(
                f"\nramp:    {online} of {shape.sessions} sessions online in {ramp:.1f} s "
                f"({online / max(ramp, 1e-9):.0f}/s; {load.total('session_failures')} failed, "
                f"{load.total('start_retries')} reconnected after ending before SessionStarted; "
                f"longest wait for SessionStarted {slowest_start:.1f} s); "
                f"load average {load_average()}"
            )
            await _steady(stack, load, online)
            online = load.total("online")  # the ramp may have given up with some pending
            fleet_after, dispatch_after = rss_bytes(pids["fleet"]), rss_bytes(pids["dispatch"])
            parts_after = resident_parts_kib(pids["fleet"])
            split = ", ".join(
                f"{name} {(parts_after[name] - parts_before[name]) / max(1, online):.1f}"
                for name in RESIDENT_PARTS
            )
            meter = CpuSplit({**pids, **{f"load{n}": p for n, p in enumerate(load.pids)}})
            print("\nper round (fixes/s; latency: the histogram bucket that holds the p99):")
            print(
                ROW.format(
                    "round", "sent/s", "fleet/s", "indexed/s", "update->index p99", "<=0.1 s"
                )
            )
            rounds = []
            for number in range(1, shape.rounds + 1):
                measured = await _round(shape, stack, load, meter)
                rounds.append(measured)
                print(_row(str(number), measured))
                print(f"       cpu: {cpu_split.describe(measured.busy_cores)}", flush=True)
                print(f"       {_saturation(shape, measured.busy_cores)}", flush=True)
            failures = load.total("session_failures")
            closings = load.total("closings")
            errors = load.errors()
        _summary(
            shape,
            rounds,
            online,
            failures,
            closings,
            fleet_after - fleet_before,
            dispatch_before,
            dispatch_after,
            split,
        )
        for error in errors:
            print(f"  generator saw: {error}")


async def _wait_for_link(stack: FleetStack) -> None:
    """fleet's Link to dispatch is up and its (empty) snapshot applied."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 30
    while True:
        dispatch = await _scrape(stack, "dispatch")
        fleet = await _scrape(stack, "fleet")
        if (
            counter(dispatch, "lastmile_dispatch_fleet_links") >= 1
            and counter(fleet, "lastmile_fleet_link_connected") >= 1
        ):
            return
        if loop.time() > give_up:
            raise LoadGeneratorFailed("fleet's Link to dispatch did not come up in 30 s")
        await asyncio.sleep(0.2)


async def _ramp(shape: LoadShape, load: GeneratorGroup) -> float:
    """Until every session is online or failed; gives up only once no session has come
    online for RAMP_STALL_SECONDS (fleet's accept rate, not a fixed rate, sets the pace)."""

    def settled(group: GeneratorGroup) -> bool:
        return group.total("online") + group.total("session_failures") >= shape.sessions

    loop = asyncio.get_running_loop()
    started = loop.time()
    last_report = last_progress = started
    online = 0
    while not settled(load):
        load.check_alive()
        now = loop.time()
        if load.total("online") > online:
            online, last_progress = load.total("online"), now
        if now - last_progress > RAMP_STALL_SECONDS:
            print(f"         ramp gave up: none online for {RAMP_STALL_SECONDS:g} s", flush=True)
            break
        if now - last_report >= 10:
            last_report = now
            print(f"         ... {online} online after {now - started:.0f} s", flush=True)
        await asyncio.sleep(0.2)
    return loop.time() - started


async def _steady(stack: FleetStack, load: GeneratorGroup, online: int) -> None:
    """Until the ramp's backlog is drained (see STEADY_*); prints how long that took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    fleet0, t0 = counter(await _scrape(stack, "fleet"), RECEIVED), loop.time()
    in_a_row, indexed, read, sent = 0, 0.0, 0.0, 0.0
    while in_a_row < STEADY_WINDOWS:
        if loop.time() - started > STEADY_WITHIN_SECONDS:
            print(f"steady:  NOT reached in {STEADY_WITHIN_SECONDS:g} s", flush=True)
            return
        await asyncio.sleep(STEADY_WINDOW_SECONDS)
        load.check_alive()
        fleet1, t1 = counter(await _scrape(stack, "fleet"), RECEIVED), loop.time()
        indexed = counter(await _scrape(stack, "dispatch"), "lastmile_dispatch_couriers")
        read, sent = (fleet1 - fleet0) / (t1 - t0), load.rate("sent", t0, t1)
        fleet0, t0 = fleet1, t1
        caught_up = indexed >= online and STEADY_SHARE * sent <= read <= sent / STEADY_SHARE
        in_a_row = in_a_row + 1 if caught_up else 0
    print(
        f"steady:  backlog drained {loop.time() - started:.1f} s after the ramp: dispatch's "
        f"index holds {indexed:.0f} couriers, fleet read {read:.0f} fixes/s of {sent:.0f}/s "
        f"sent, {STEADY_WINDOWS} windows of {STEADY_WINDOW_SECONDS:g} s in a row",
        flush=True,
    )


async def _round(
    shape: LoadShape, stack: FleetStack, load: GeneratorGroup, meter: CpuSplit
) -> Round:
    loop = asyncio.get_running_loop()
    dispatch0, fleet0 = await _scrape(stack, "dispatch"), await _scrape(stack, "fleet")
    cpu0, t0, machine = meter.sample(), loop.time(), MachineCpu()
    await asyncio.sleep(shape.duration_seconds)
    dispatch1, fleet1 = await _scrape(stack, "dispatch"), await _scrape(stack, "fleet")
    cpu1, t1 = meter.sample(), loop.time()
    load.check_alive()
    wall = t1 - t0
    busy = CpuSplit.busy_cores(cpu0, cpu1)
    busy.pop(cpu_split.LOAD_GENERATOR, None)  # only finished children; ours still run
    # Other work on a shared machine takes cores the mesh and the generators then lack.
    busy[OTHERS] = max(0.0, machine.busy_cores() - sum(busy.values()))
    return Round(
        sent_per_second=load.rate("sent", t0, t1),
        received_per_second=(counter(fleet1, RECEIVED) - counter(fleet0, RECEIVED)) / wall,
        applied_per_second=(counter(dispatch1, APPLIED) - counter(dispatch0, APPLIED)) / wall,
        latency_buckets=bucket_delta(histogram(dispatch0, LATENCY), histogram(dispatch1, LATENCY)),
        busy_cores=busy,
    )


def _saturation(shape: LoadShape, busy: dict[str, float]) -> str:
    """Which of fleet, the generators and the machine had no slack left, measured."""
    generators = [cores for name, cores in busy.items() if name.startswith("load")]
    generator_cpus = len(_cpu_list(shape.load_cpus)) or (os.cpu_count() or 1)
    busiest, together = max(generators, default=0.0), sum(generators)
    fleet, machine = busy.get("fleet", 0.0), sum(busy.values())
    generators_saturated = busiest >= SATURATED_CORES or together >= (
        SATURATED_CORES * generator_cpus
    )
    machine_cores = os.cpu_count() or 1
    return (
        f"saturation: fleet {fleet:.2f} cores ({_verdict(fleet >= SATURATED_CORES)}); "
        f"{len(generators)} generators: busiest {busiest:.2f}, together {together:.2f} of the "
        f"{generator_cpus} CPU(s) they run on ({_verdict(generators_saturated)}); "
        f"machine {machine:.2f} of {machine_cores} cores "
        f"({_verdict(machine >= SATURATED_CORES * machine_cores)})"
    )


def _verdict(saturated: bool) -> str:
    return "SATURATED" if saturated else "not saturated"


def _cpu_list(cpus: str) -> list[int]:
    """taskset's "0,2-3" as [0, 2, 3]; empty for unpinned."""
    listed: list[int] = []
    for part in filter(None, cpus.split(",")):
        low, _, high = part.partition("-")
        listed.extend(range(int(low), int(high or low) + 1))
    return listed


def _share(buckets: dict[float, float]) -> str:
    share = share_at_most(buckets, GOAL_P99_SECONDS)
    return "n/a" if share is None else f"{share * 100:.1f}%"


def _row(label: str, measured: Round) -> str:
    return ROW.format(
        label,
        f"{measured.sent_per_second:.0f}",
        f"{measured.received_per_second:.0f}",
        f"{measured.applied_per_second:.0f}",
        describe_bound(measured.latency_buckets, 0.99),
        _share(measured.latency_buckets),
    )


def _summary(
    shape: LoadShape,
    rounds: list[Round],
    online: int,
    failures: int,
    closings: int,
    fleet_growth: int,
    dispatch_before: int,
    dispatch_after: int,
    split: str,
) -> None:
    buckets: dict[float, float] = {}
    for measured in rounds:
        for bound, count in measured.latency_buckets.items():
            buckets[bound] = buckets.get(bound, 0.0) + count
    total_wall = len(rounds)
    applied = sum(r.applied_per_second for r in rounds) / total_wall
    sent = sum(r.sent_per_second for r in rounds) / total_wall
    received = sum(r.received_per_second for r in rounds) / total_wall
    busy: dict[str, float] = {}
    for measured in rounds:
        for name, cores in measured.busy_cores.items():
            busy[name] = busy.get(name, 0.0) + cores / total_wall
    per_session_kib = fleet_growth / max(1, online) / 1024
    p99 = quantile_bound(buckets, 0.99)
    offered = online / shape.ping_seconds
    print(
        f"\nall rounds: sent {sent:.0f}/s (offered {offered:.0f}/s), fleet received "
        f"{received:.0f}/s, dispatch indexed {applied:.0f}/s"
    )
    print(
        f"update -> index latency ({LATENCY} buckets, change over the rounds): "
        f"{describe_bound(buckets, 0.99)}, {describe_bound(buckets, 0.5)}; "
        f"{_share(buckets)} at most 0.1 s"
    )
    print(f"cpu (mean of rounds): {cpu_split.describe(busy)}")
    print(_saturation(shape, busy))
    print(
        f"memory: fleet VmRSS grew {fleet_growth / 2**20:.1f} MiB for {online} sessions = "
        f"{per_session_kib:.1f} KiB per session; dispatch VmRSS "
        f"{dispatch_before / 2**20:.1f} -> {dispatch_after / 2**20:.1f} MiB"
    )
    print(f"        fleet's growth by mapping, KiB per session: {split}")
    print(f"sessions: {failures} failed or ended, {closings} SessionClosing received")
    # The 100 ms goal can only be judged if 0.1 s is a bucket bound; it is today, but the
    # next bound is 0.25 s, so a p99 above 0.1 s is only known to be <= 0.25 s.
    if p99 is None:
        latency_verdict = "n/a (no observations)"
        latency_met = False
    else:
        latency_met = p99 <= GOAL_P99_SECONDS
        latency_verdict = describe_bound(buckets, 0.99)
    goals = [
        (f"{GOAL_SESSIONS} sessions", online >= GOAL_SESSIONS, f"{online} online"),
        (
            f">= {GOAL_UPDATES_PER_SECOND:.0f} updates/s indexed",
            applied >= GOAL_UPDATES_PER_SECOND,
            f"{applied:.0f}/s",
        ),
        (f"p99 update->index < {GOAL_P99_SECONDS * 1000:.0f} ms", latency_met, latency_verdict),
        (
            f"< {GOAL_KIB_PER_SESSION:g} KiB per session",
            per_session_kib < GOAL_KIB_PER_SESSION,
            f"{per_session_kib:.1f} KiB",
        ),
    ]
    print("\ngoals (on 2 cores):")
    for goal, met, figure in goals:
        print(f"  {goal:<34} {'met' if met else 'NOT MET':<8} ({figure})")
    if p99 is not None and not math.isinf(p99) and not latency_met:
        print(
            "  note: p99 above 0.1 s is only bounded by the next bucket; buckets such as "
            "0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25 would resolve it"
        )


LIVE_FLEET = Benchmark(
    name="live-fleet",
    summary="K courier sessions pinging fleet: fixes/s into dispatch's index, p99, RSS/session",
    run=run,
    tools=(),
)
