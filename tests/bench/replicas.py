"""replicas: the req/s a second process of a saturated stateless service adds. pricing's
CreateQuote (the full Lastmile runtime, in processes of its own) is driven by h2load through
an Envoy whose cluster lists one replica, then through an Envoy whose cluster lists two,
in interleaved rounds (1, 2, 1, ...) at the same concurrency.

Envoy balances per request (round robin over one HTTP/2 connection per replica), not per
connection, as the edge and the sidecars do. Nothing is pinned: on a 2-core machine the
load generator and Envoy need CPU too, which is what limits the gain here; the busy cores
of every process are printed for every round.
"""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean
from typing import Any

from gateway.edge.render import envoy_command
from gateway.envoy_config import (
    HTTP_CONNECTION_MANAGER,
    http2_upstream,
    router,
    socket_address,
    typed,
)
from tests.bench import cpu_split, h2load
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.cpu_split import CpuSplit
from tests.bench.h2load import LoadFailed, LoadRun
from tests.bench.machine import MachineCpu, describe_machine, load_average
from tests.bench.pricing_calls import (
    CREATE_QUOTE_PATH,
    answers_create_quote,
    create_quote_request,
    grpc_frame,
    quote_frame_length,
    reports_serving,
)
from tests.bench.server_process import running_server
from tests.servers import free_port

GOAL_GAIN = 1.6
MODES = ("1 replica", "2 replicas")
ROW = "{:<6} {:<11} {:>9} {:>8} {:>8} {:>9}"


@dataclass(frozen=True)
class Round:
    """One mode's measured run and where the CPU went meanwhile."""

    load: LoadRun
    busy_cores: dict[str, float]


def run(shape: LoadShape) -> None:
    shape = replace(shape, server_cpus="", load_cpus="")
    print("replicas: pricing CreateQuote through Envoy, one replica vs two (round robin)")
    print(f"machine: {describe_machine()}")
    print(
        f"load:    {shape.describe()}; Envoy --concurrency 1; nothing pinned; "
        f"load average {load_average()} at the start"
    )
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
        rounds, served = _measure(shape, Path(scratch))
    _print_summary(rounds, served)
    print(f"load average at the end: {load_average()}")


def balancer_config(listen_port: int, replica_ports: list[int]) -> dict[str, Any]:
    """An Envoy that forwards every gRPC call to one of `replica_ports`, round robin."""
    manager = typed(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="replicas",
        codec_type="AUTO",
        route_config={
            "virtual_hosts": [
                {
                    "name": "pricing",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "pricing"}}],
                }
            ]
        },
        http_filters=[router()],
    )
    endpoints = [{"endpoint": {"address": socket_address("127.0.0.1", p)}} for p in replica_ports]
    return {
        "static_resources": {
            "listeners": [
                {
                    "name": "ingress",
                    "address": socket_address("127.0.0.1", listen_port),
                    "filter_chains": [
                        {"filters": [{"name": HTTP_CONNECTION_MANAGER, "typed_config": manager}]}
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "pricing",
                    "type": "STATIC",
                    "connect_timeout": "2s",
                    "lb_policy": "ROUND_ROBIN",
                    "load_assignment": {
                        "cluster_name": "pricing",
                        "endpoints": [{"lb_endpoints": endpoints}],
                    },
                    "typed_extension_protocol_options": http2_upstream(),
                }
            ],
        }
    }


def _measure(shape: LoadShape, work: Path) -> tuple[dict[str, list[Round]], dict[str, int]]:
    payload = work / "create_quote.bin"
    payload.write_bytes(grpc_frame(create_quote_request().SerializeToString()))
    rounds: dict[str, list[Round]] = {mode: [] for mode in MODES}
    with ExitStack() as processes:
        replicas = []
        for number in (1, 2):
            port = free_port()
            replicas.append(
                processes.enter_context(
                    running_server(
                        [sys.executable, "-m", "tests.bench.pricing_server", "--mode",
                         "lastmile", "--port", str(port)],
                        port=port,
                        log=work / f"pricing-{number}.log",
                        is_ready=reports_serving,
                    )
                )
            )  # fmt: skip
        frame_length = quote_frame_length(replicas[0].port)
        balancers, urls = {}, {}
        for mode, behind in zip(MODES, ([replicas[0]], replicas), strict=True):
            port = free_port()
            config = work / f"envoy-{len(behind)}.json"
            config.write_text(json.dumps(balancer_config(port, [r.port for r in behind])))
            balancers[mode] = processes.enter_context(
                running_server(
                    envoy_command(config, concurrency=1),
                    port=port,
                    log=work / f"envoy-{len(behind)}.log",
                    is_ready=answers_create_quote,
                )
            )
            urls[mode] = f"http://127.0.0.1:{port}{CREATE_QUOTE_PATH}"
        meter = CpuSplit(
            {
                "pricing-1": replicas[0].process.pid,
                "pricing-2": replicas[1].process.pid,
                "envoy(1)": balancers[MODES[0]].process.pid,
                "envoy(2)": balancers[MODES[1]].process.pid,
            }
        )
        print("\nper round (latency percentiles from h2load's per-request log):")
        print(ROW.format("round", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
        for number in range(1, shape.rounds + 1):
            for mode in MODES:
                measured = _one_round(shape, urls[mode], payload, work, meter)
                _check_every_call_returned_a_quote(mode, measured.load, frame_length)
                rounds[mode].append(measured)
                print(_row(str(number), mode, [measured]))
                print(f"       cpu: {cpu_split.describe(measured.busy_cores)}", flush=True)
    # Stopped gracefully, each replica has written out its access log: who served what.
    served = {f"pricing-{n}": _quotes_logged(work / f"pricing-{n}.log") for n in (1, 2)}
    return rounds, served


def _one_round(shape: LoadShape, url: str, payload: Path, work: Path, meter: CpuSplit) -> Round:
    if shape.warm_up_seconds > 0:
        h2load.drive(
            url,
            payload=payload,
            shape=shape,
            duration_seconds=shape.warm_up_seconds,
            log_file=work / "warm-up.log",
        )
    before, machine = meter.sample(), MachineCpu()
    load = h2load.drive(
        url,
        payload=payload,
        shape=shape,
        duration_seconds=shape.duration_seconds,
        log_file=work / "requests.log",
    )
    busy = CpuSplit.busy_cores(before, meter.sample())
    # h2load is the only child that finished in the round: its CPU is the generator's.
    busy["h2load"] = busy.pop(cpu_split.LOAD_GENERATOR)
    ours = sum(busy.values())
    # What else ran meanwhile (other work on a shared machine) takes cores from both modes.
    busy["everything else"] = max(0.0, machine.busy_cores() - ours)
    return Round(load, busy)


def _check_every_call_returned_a_quote(mode: str, load: LoadRun, frame_length: int) -> None:
    expected = load.succeeded * frame_length
    if load.data_bytes != expected:
        raise LoadFailed(
            f"{mode}: {load.data_bytes} response bytes for {load.succeeded} calls, expected "
            f"{expected} ({frame_length} each); some calls did not return a quote"
        )


def _quotes_logged(log: Path) -> int:
    count = 0
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("logger") == "lastmile.access" and entry.get("rpc") == CREATE_QUOTE_PATH:
            count += 1
    return count


def _row(label: str, mode: str, rounds: list[Round]) -> str:
    latencies = [latency for r in rounds for latency in r.load.latencies_us]
    return ROW.format(
        label,
        mode,
        f"{mean(r.load.requests_per_second for r in rounds):.1f}",
        f"{h2load.percentile(latencies, 0.50) / 1000:.2f}",
        f"{h2load.percentile(latencies, 0.99) / 1000:.2f}",
        len(latencies),
    )


def _print_summary(rounds: dict[str, list[Round]], served: dict[str, int]) -> None:
    print("\nall rounds (req/s: mean of rounds; p50/p99: over every request):")
    print(ROW.format("", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
    for mode in MODES:
        print(_row("all", mode, rounds[mode]))
    for mode in MODES:
        busy: dict[str, float] = {}
        for measured in rounds[mode]:
            for name, cores in measured.busy_cores.items():
                busy[name] = busy.get(name, 0.0) + cores / len(rounds[mode])
        print(f"cpu, {mode} (mean of rounds): {cpu_split.describe(busy)}")
        # The cleaner reading on a shared machine, where the scheduler's share per process
        # gives two replicas more of the CPU than one gets: what each pricing core serves.
        pricing_cores = sum(c for name, c in busy.items() if name.startswith("pricing"))
        served_per_second = mean(r.load.requests_per_second for r in rounds[mode])
        print(
            f"     {mode}: {served_per_second / max(pricing_cores, 1e-9):.0f} req/s per busy "
            f"pricing core ({pricing_cores:.2f} cores)"
        )
    # pricing-2 serves only behind the two-replica Envoy (warm-ups and readiness included).
    print(
        "access log lines for CreateQuote (warm-ups included): "
        + ", ".join(f"{name} {count}" for name, count in served.items())
    )
    one, two = (mean(r.load.requests_per_second for r in rounds[mode]) for mode in MODES)
    gain = two / one
    verdict = "meets the goal" if gain >= GOAL_GAIN else "BELOW the goal (see the cpu lines)"
    print(f"\n2 replicas / 1 replica req/s: {gain:.2f}x   goal >= {GOAL_GAIN}x: {verdict}")


REPLICAS = Benchmark(
    name="replicas",
    summary="pricing CreateQuote req/s through Envoy round robin: 1 replica vs 2, one run",
    run=run,
)
