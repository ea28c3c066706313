"""sidecar-overhead: what two Envoy sidecars with mTLS add to one unary call. pricing's real
CreateQuote (the full Lastmile runtime, its own process) is called straight and through the
caller's sidecar (h2c in, mTLS out) and pricing's sidecar (mTLS in, RBAC, h2c to the app),
in interleaved rounds at the same fixed concurrency; nothing pinned.

The figure of merit is p99 added per hop: (p99 through both sidecars - p99 direct) / 2.
Istio publishes about 2.7 ms at p99 for its sidecar pair; the goal here is <= 1.0 ms per hop.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from statistics import mean, median

from gateway.sidecar.certs import ensure_workload_certs
from gateway.sidecar.topology import MeshTopology
from tests.bench import h2load
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.h2load import LoadFailed, LoadRun
from tests.bench.machine import describe_machine
from tests.bench.pricing_calls import (
    CREATE_QUOTE_PATH,
    create_quote_request,
    grpc_frame,
    quote_frame_length,
    reports_serving,
)
from tests.bench.server_process import running_server
from tests.integration.sidecar.sidecar_process import place, running_sidecar
from tests.servers import free_port

MODES = ("direct", "sidecars")
# Latency is measured below saturation: a few calls in flight, so that queueing in the
# Python server does not drown what the proxies add.
CLIENTS, STREAMS_PER_CLIENT = 4, 1
GOAL_PER_HOP_MS = 1.0
ROW = "{:<6} {:<9} {:>9} {:>8} {:>8} {:>9}"


def run(shape: LoadShape) -> None:
    shape = replace(
        shape, clients=CLIENTS, streams_per_client=STREAMS_PER_CLIENT, server_cpus="", load_cpus=""
    )
    print("sidecar-overhead: pricing CreateQuote direct vs through two Envoy sidecars (mTLS)")
    print(f"machine: {describe_machine()}")
    print(f"load:    {shape.describe()}; sidecars run with --concurrency 1")
    with tempfile.TemporaryDirectory(prefix="bench-sidecar-overhead-") as scratch:
        runs = asyncio.run(_measure(shape, Path(scratch)))
    _print_summary(runs)


async def _measure(shape: LoadShape, work: Path) -> dict[str, list[LoadRun]]:
    mesh = MeshTopology.load()
    ensure_workload_certs(work / "certs", ["orders", "pricing"])
    payload = work / "create_quote.bin"
    payload.write_bytes(grpc_frame(create_quote_request().SerializeToString()))
    app_port = free_port()
    command = [sys.executable, "-m", "tests.bench.pricing_server", "--mode", "lastmile"]
    with running_server(
        [*command, "--port", str(app_port)],
        port=app_port,
        log=work / "pricing.log",
        is_ready=reports_serving,
    ):
        pricing = place("pricing", mesh, work / "certs", app_port=app_port)
        orders = place("orders", mesh, work / "certs", app_port=0, callees={"pricing": pricing})
        async with running_sidecar(pricing, mesh, work), running_sidecar(orders, mesh, work):
            ports = {"direct": app_port, "sidecars": orders.outbound_ports["pricing"]}
            frame_length = quote_frame_length(app_port)
            return await asyncio.to_thread(_rounds, shape, ports, payload, frame_length, work)


def _rounds(
    shape: LoadShape, ports: dict[str, int], payload: Path, frame_length: int, work: Path
) -> dict[str, list[LoadRun]]:
    runs: dict[str, list[LoadRun]] = {mode: [] for mode in MODES}
    print("\nper round (latency percentiles from h2load's per-request log):")
    print(ROW.format("round", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
    for number in range(1, shape.rounds + 1):
        for mode in MODES:
            url = f"http://127.0.0.1:{ports[mode]}{CREATE_QUOTE_PATH}"
            if shape.warm_up_seconds > 0:
                h2load.drive(
                    url, payload=payload, shape=shape,
                    duration_seconds=shape.warm_up_seconds, log_file=work / "warm-up.log",
                )  # fmt: skip
            load = h2load.drive(
                url, payload=payload, shape=shape,
                duration_seconds=shape.duration_seconds, log_file=work / f"{mode}.log",
            )  # fmt: skip
            # A gRPC error is HTTP 200 with a trailers-only response: it carries no DATA.
            if load.data_bytes != load.succeeded * frame_length:
                raise LoadFailed(f"{mode}: some calls did not return a quote")
            runs[mode].append(load)
            print(_row(str(number), mode, [load]), flush=True)
    return runs


def _p(loads: list[LoadRun], fraction: float) -> float:
    return h2load.percentile([lat for load in loads for lat in load.latencies_us], fraction) / 1000


def _row(label: str, mode: str, loads: list[LoadRun]) -> str:
    return ROW.format(
        label,
        mode,
        f"{mean(load.requests_per_second for load in loads):.1f}",
        f"{_p(loads, 0.50):.2f}",
        f"{_p(loads, 0.99):.2f}",
        sum(len(load.latencies_us) for load in loads),
    )


def _print_summary(runs: dict[str, list[LoadRun]]) -> None:
    print("\nall rounds (req/s: mean of rounds; p50/p99: over every request):")
    print(ROW.format("", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
    for mode in MODES:
        print(_row("all", mode, runs[mode]))
    # Medians of the rounds' own percentiles: one round disturbed by a neighbour on a shared
    # machine should not decide the verdict either way.
    added = {
        fraction: median(_p([s], fraction) for s in runs["sidecars"])
        - median(_p([d], fraction) for d in runs["direct"])
        for fraction in (0.50, 0.99)
    }
    per_hop = added[0.99] / 2
    verdict = "meets goal" if per_hop <= GOAL_PER_HOP_MS else "ABOVE goal"
    print(
        f"\nadded by two sidecars (median of rounds): p50 {added[0.50]:+.2f} ms, "
        f"p99 {added[0.99]:+.2f} ms"
    )
    print(f"p99 added per hop: {per_hop:+.2f} ms   goal <= {GOAL_PER_HOP_MS:.1f} ms: {verdict}")


SIDECAR_OVERHEAD = Benchmark(
    name="sidecar-overhead",
    summary="CreateQuote p50, p99: direct vs through two Envoy sidecars with mTLS (per hop)",
    run=run,
)
