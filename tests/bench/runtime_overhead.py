"""runtime-overhead: what the Lastmile runtime costs per call, against a bare grpc.aio server.

Both servers run pricing's real CreateQuote in processes of their own, pinned to the same
CPU, and are loaded in interleaved rounds (bare, lastmile, bare, ...) so that drift in
the machine (thermal, noisy neighbours) hits both alike.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from statistics import mean

from tests.bench import h2load
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.h2load import LoadFailed, LoadRun
from tests.bench.machine import describe_machine, load_average
from tests.bench.pricing_calls import (
    CREATE_QUOTE_PATH,
    answers_create_quote,
    create_quote_request,
    grpc_frame,
    quote_frame_length,
    reports_serving,
)
from tests.bench.pricing_server import PRODUCTION_TRACE_SAMPLE_RATIO
from tests.bench.server_process import running_server
from tests.servers import free_port

TARGET_RATIO = 0.90
READINESS: dict[str, Callable[[int], bool]] = {
    "bare": answers_create_quote,
    "lastmile": reports_serving,
}
MODES = tuple(READINESS)
ROW = "{:<7} {:<9} {:>10} {:>8} {:>8} {:>10}"


def run(shape: LoadShape) -> None:
    print("runtime-overhead: pricing CreateQuote, bare grpc.aio server vs the Lastmile runtime")
    print(f"machine: {describe_machine()}")
    print(f"load:    {shape.describe()}")
    print(f"load average at start: {load_average()}")
    print(
        "lastmile: uvloop, server spans head-sampled at "
        f"{PRODUCTION_TRACE_SAMPLE_RATIO:.0%} (the Kubernetes ratio), JSON access log at INFO; "
        "bare: asyncio's loop, nothing but the servicer"
    )
    with tempfile.TemporaryDirectory(prefix="bench-runtime-overhead-") as scratch:
        work = Path(scratch)
        runs = _measure(shape, work)
        access_lines = _count_access_log_lines(work / "lastmile.log")
    measured = sum(load.succeeded for load in runs["lastmile"])
    if access_lines < measured:
        raise LoadFailed(f"lastmile wrote {access_lines} access log lines for {measured} calls")
    print(f"lastmile access log: {access_lines} JSON lines, all OK")
    _print_summary(runs)
    print(f"load average at end: {load_average()}")


def _measure(shape: LoadShape, work: Path) -> dict[str, list[LoadRun]]:
    payload = work / "create_quote.bin"
    payload.write_bytes(grpc_frame(create_quote_request().SerializeToString()))
    runs: dict[str, list[LoadRun]] = {mode: [] for mode in MODES}
    with ExitStack() as servers:
        urls, frame_lengths = {}, {}
        for mode in MODES:
            port = free_port()
            server = servers.enter_context(
                running_server(
                    _server_command(mode, port),
                    port=port,
                    log=work / f"{mode}.log",
                    is_ready=READINESS[mode],
                    cpus=shape.server_cpus,
                )
            )
            frame_lengths[mode] = quote_frame_length(server.port)
            urls[mode] = f"http://127.0.0.1:{server.port}{CREATE_QUOTE_PATH}"
        print("\nper round (latency percentiles from h2load's per-request log):")
        print(ROW.format("round", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
        for round_number in range(1, shape.rounds + 1):
            for mode in MODES:
                load = _one_round(shape, urls[mode], payload, work)
                _check_every_call_returned_a_quote(mode, load, frame_lengths[mode])
                runs[mode].append(load)
                print(_row(str(round_number), mode, [load]), flush=True)
    return runs


def _server_command(mode: str, port: int) -> list[str]:
    module = "tests.bench.pricing_server"
    return [sys.executable, "-m", module, "--mode", mode, "--port", str(port)]


def _one_round(shape: LoadShape, url: str, payload: Path, work: Path) -> LoadRun:
    # A separate warm-up run rather than --warm-up-time, which would fold the warm-up's
    # bytes into the DATA total that the quote check relies on.
    if shape.warm_up_seconds > 0:
        h2load.drive(
            url,
            payload=payload,
            shape=shape,
            duration_seconds=shape.warm_up_seconds,
            log_file=work / "warm-up.log",
        )
    return h2load.drive(
        url,
        payload=payload,
        shape=shape,
        duration_seconds=shape.duration_seconds,
        log_file=work / "requests.log",
    )


def _check_every_call_returned_a_quote(mode: str, load: LoadRun, frame_length: int) -> None:
    # A gRPC error is HTTP 200 with a trailers-only response: it carries no DATA at all.
    expected = load.succeeded * frame_length
    if load.data_bytes != expected:
        raise LoadFailed(
            f"{mode}: {load.data_bytes} response bytes for {load.succeeded} calls, expected "
            f"{expected} ({frame_length} each); some calls did not return a quote"
        )


def _count_access_log_lines(log: Path) -> int:
    lines = 0
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # stray stderr output (a warning, say) is not an access log line
        if entry.get("logger") != "lastmile.access" or entry.get("rpc") != CREATE_QUOTE_PATH:
            continue
        if entry.get("code") != "OK":
            raise LoadFailed(f"lastmile logged a failed call: {line}")
        lines += 1
    return lines


def _row(label: str, mode: str, loads: list[LoadRun]) -> str:
    # Throughput is the mean of the rounds; percentiles pool every request of the rounds.
    latencies = [latency for load in loads for latency in load.latencies_us]
    return ROW.format(
        label,
        mode,
        f"{mean(load.requests_per_second for load in loads):.1f}",
        f"{h2load.percentile(latencies, 0.50) / 1000:.2f}",
        f"{h2load.percentile(latencies, 0.99) / 1000:.2f}",
        len(latencies),
    )


def _print_summary(runs: dict[str, list[LoadRun]]) -> None:
    print("\nall rounds (req/s: mean of rounds; p50/p99: over every request):")
    print(ROW.format("", "mode", "req/s", "p50 ms", "p99 ms", "requests"))
    for mode in MODES:
        print(_row("all", mode, runs[mode]))
    ratio = mean(r.requests_per_second for r in runs["lastmile"]) / mean(
        r.requests_per_second for r in runs["bare"]
    )
    verdict = "meets target" if ratio >= TARGET_RATIO else "BELOW target"
    print(f"\nlastmile/bare req/s: {ratio:.3f}   target >= {TARGET_RATIO:.2f}: {verdict}")


RUNTIME_OVERHEAD = Benchmark(
    name="runtime-overhead",
    summary="pricing CreateQuote req/s, p50, p99: bare grpc.aio vs the full Lastmile runtime",
    run=run,
)
