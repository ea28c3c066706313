"""edge-vs-direct: pricing's CreateQuote as the public sees it (REST JSON through the Envoy
edge, driven by wrk) against the same call straight to pricing over gRPC (h2load).

The whole mesh runs, unpinned, on this machine: the edge pays for its CPU in the same
cores pricing needs, which is what production on a small node pays too. Both modes keep
the same number of requests in flight and run in interleaved rounds (rest, direct, ...).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean, median

from google.protobuf import json_format

from services.devstack.launcher import LocalMesh
from tests.bench import cpu_split, h2load, wrk
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.cpu_split import CpuSplit
from tests.bench.h2load import LoadFailed
from tests.bench.local_mesh import describe_mesh, running_mesh
from tests.bench.machine import describe_machine
from tests.bench.pricing_calls import (
    CREATE_QUOTE_PATH,
    create_quote_request,
    grpc_frame,
    quote_frame_length,
)
from tests.bench.wrk import RestLoad

TARGET_RATIO = 0.80
MODES = ("rest", "direct")
ROW = "{:<6} {:<7} {:>9} {:>8} {:>8} {:>9}"


@dataclass(frozen=True)
class Round:
    """One mode's measured run: throughput, latency and where the CPU went meanwhile."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    busy_cores: dict[str, float]


@dataclass(frozen=True)
class Targets:
    """Both ways to the same quote, and what a correct answer looks like on each."""

    rest: RestLoad
    direct_url: str
    direct_payload: Path
    direct_frame_length: int


def run(shape: LoadShape) -> None:
    # The mesh shares every CPU with the load generators; pinning one side would skew it.
    shape = replace(shape, server_cpus="", load_cpus="")
    print("edge-vs-direct: pricing CreateQuote, REST through the Envoy edge vs gRPC to pricing")
    print(f"machine: {describe_machine()}, {wrk.wrk_version()}")
    print(
        f"load:    {_in_flight(shape)} requests in flight each way: "
        f"wrk -t {shape.threads} -c {_in_flight(shape)} (HTTP/1.1) vs "
        f"h2load -t {shape.threads} -c {shape.clients} -m {shape.streams_per_client}; "
        f"{shape.rounds} rounds x {shape.duration_seconds:g} s "
        f"(+{shape.warm_up_seconds:g} s warm-up each); nothing pinned"
    )
    with tempfile.TemporaryDirectory(prefix="bench-edge-vs-direct-") as scratch:
        rounds = asyncio.run(_measure(shape, Path(scratch)))
    _print_summary(rounds)


def _in_flight(shape: LoadShape) -> int:
    return shape.clients * shape.streams_per_client


async def _measure(shape: LoadShape, work: Path) -> dict[str, list[Round]]:
    async with running_mesh(work / "mesh") as mesh:
        print(f"mesh:    {describe_mesh(mesh)}")
        targets = _targets(mesh, work)
        meter = CpuSplit({c.name: c.pid for c in mesh.components if c.pid is not None})
        rounds: dict[str, list[Round]] = {mode: [] for mode in MODES}
        print("\nper round (busy cores per component while it ran below each row):")
        print(ROW.format("round", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
        for number in range(1, shape.rounds + 1):
            for mode in MODES:
                measured = await asyncio.to_thread(_one_round, mode, shape, targets, meter)
                rounds[mode].append(measured)
                print(_row(str(number), mode, [measured]))
                print(f"       cpu: {cpu_split.describe(measured.busy_cores)}", flush=True)
        return rounds


def _targets(mesh: LocalMesh, work: Path) -> Targets:
    request = create_quote_request()
    body = work / "create_quote.json"
    body.write_text(json.dumps(json_format.MessageToDict(request)))
    payload = work / "create_quote.bin"
    payload.write_bytes(grpc_frame(request.SerializeToString()))
    return Targets(
        rest=RestLoad(f"http://127.0.0.1:{mesh.ports.edge}/v1/quotes", body, '"quoteId"'),
        direct_url=f"http://127.0.0.1:{mesh.ports.pricing}{CREATE_QUOTE_PATH}",
        direct_payload=payload,
        direct_frame_length=quote_frame_length(mesh.ports.pricing),
    )


def _one_round(mode: str, shape: LoadShape, targets: Targets, meter: CpuSplit) -> Round:
    # Warm-ups are runs of their own, never folded into the measured figures.
    if shape.warm_up_seconds > 0:
        _drive(mode, shape, targets, shape.warm_up_seconds)
    before = meter.sample()
    measured = _drive(mode, shape, targets, shape.duration_seconds)
    busy = CpuSplit.busy_cores(before, meter.sample())
    return replace(measured, busy_cores=busy)


def _drive(mode: str, shape: LoadShape, targets: Targets, seconds: float) -> Round:
    if mode == "rest":
        rest = wrk.drive(
            targets.rest,
            connections=_in_flight(shape),
            threads=shape.threads,
            duration_seconds=seconds,
        )
        if rest.problems():
            raise LoadFailed(f"REST CreateQuote through the edge: {rest.problems()}")
        return Round(rest.requests_per_second, rest.p50_ms, rest.p99_ms, rest.requests, {})
    direct = h2load.drive(
        targets.direct_url,
        payload=targets.direct_payload,
        shape=shape,
        duration_seconds=seconds,
        log_file=targets.direct_payload.with_suffix(".log"),
    )
    # A gRPC error is HTTP 200 with a trailers-only response: it carries no DATA at all.
    expected = direct.succeeded * targets.direct_frame_length
    if direct.data_bytes != expected:
        raise LoadFailed(
            f"gRPC CreateQuote: {direct.data_bytes} response bytes for {direct.succeeded} "
            f"calls, expected {expected}; some calls did not return a quote"
        )
    return Round(
        direct.requests_per_second,
        direct.percentile_ms(0.50),
        direct.percentile_ms(0.99),
        len(direct.latencies_us),
        {},
    )


def _row(label: str, mode: str, rounds: list[Round]) -> str:
    # Throughput is the mean of the rounds, percentiles the median of the rounds' own
    # (wrk reports percentiles, not per-request latencies that could be pooled).
    return ROW.format(
        label,
        mode,
        f"{mean(r.requests_per_second for r in rounds):.1f}",
        f"{median(r.p50_ms for r in rounds):.2f}",
        f"{median(r.p99_ms for r in rounds):.2f}",
        sum(r.requests for r in rounds),
    )


def _print_summary(rounds: dict[str, list[Round]]) -> None:
    print("\nall rounds (req/s: mean of rounds; p50/p99: median of rounds):")
    print(ROW.format("", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
    for mode in MODES:
        print(_row("all", mode, rounds[mode]))
    ratio = mean(r.requests_per_second for r in rounds["rest"]) / mean(
        r.requests_per_second for r in rounds["direct"]
    )
    verdict = "meets target" if ratio >= TARGET_RATIO else "BELOW target"
    print(f"\nREST/direct req/s: {ratio:.3f}   target >= {TARGET_RATIO:.2f}: {verdict}")


EDGE_VS_DIRECT = Benchmark(
    name="edge-vs-direct",
    summary="CreateQuote req/s, p50, p99: REST through the Envoy edge (wrk) vs gRPC (h2load)",
    run=run,
)
