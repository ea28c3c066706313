"""`python -m tests.bench [NAME ...]`: run the named benchmarks (all by default).

Every load flag also reads an environment variable (BENCH_ROUNDS, BENCH_DURATION, ...),
so that `make bench` can be shortened without editing the Makefile.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from tests.bench.benchmark import LoadShape
from tests.bench.catalogue import BENCHMARKS

# flag, LoadShape field, parser, metavar, help
_LOAD_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str, str], ...] = (
    ("--rounds", "rounds", int, "N", "measured rounds per server, interleaved"),
    ("--duration", "duration_seconds", float, "S", "seconds measured per round"),
    ("--warm-up", "warm_up_seconds", float, "S", "seconds of unmeasured load before each round"),
    ("--threads", "threads", int, "N", "h2load -t: worker threads"),
    ("--clients", "clients", int, "N", "h2load -c: connections"),
    ("--streams", "streams_per_client", int, "N", "h2load -m: streams per connection"),
    ("--server-cpus", "server_cpus", str, "CPUS", "taskset CPU list for servers ('' = unpinned)"),
    ("--load-cpus", "load_cpus", str, "CPUS", "taskset CPU list for h2load ('' = unpinned)"),
    ("--sessions", "sessions", int, "K", "live-fleet: concurrent courier sessions"),
    ("--ping-seconds", "ping_seconds", float, "P", "live-fleet: one fix per session every P s"),
    ("--ramp", "ramp_per_second", float, "N", "courier sessions opened per second"),
    (
        "--load-processes",
        "load_processes",
        int,
        "N",
        "live-fleet: load generator processes (0: one per 2,500 sessions)",
    ),
    ("--couriers", "couriers", int, "N", "dispatch-latency: idle couriers online"),
    ("--rate", "deliveries_per_second", float, "R", "dispatch-latency: deliveries created/s"),
    ("--cost-rate", "cost_rate", float, "R", "delivery-cost: deliveries created/s"),
    ("--cost-couriers", "cost_couriers", int, "N", "delivery-cost: couriers online"),
    (
        "--cost-sample-ratio",
        "cost_sample_ratio",
        float,
        "F",
        "delivery-cost: traces sampled (1: development's every trace)",
    ),
    ("--soak-minutes", "soak_minutes", float, "M", "soak: minutes of steady load"),
    ("--soak-rate", "soak_rate", float, "R", "soak: creates/s (0: half the probed capacity)"),
)


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<18} {b.summary}" for name, b in BENCHMARKS.items())
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Benchmarks (not tests): they print figures and assert nothing on timing.",
        epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="benchmarks (default: all but the soak)"
    )
    defaults = asdict(LoadShape())
    for flag, field, parse, metavar, what in _LOAD_FLAGS:
        variable = "BENCH_" + flag.removeprefix("--").replace("-", "_").upper()
        # argparse runs `type` over string defaults too, so a bad variable is reported
        # like a bad flag.
        parser.add_argument(
            flag,
            dest=field,
            type=parse,
            metavar=metavar,
            default=os.environ.get(variable, defaults[field]),
            help=f"{what} (env {variable}; default %(default)s)",
        )
    return parser


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through the benchmarks' context managers, which stop the servers.
    sys.exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = _parser()
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    selected = arguments.names or [name for name, b in BENCHMARKS.items() if b.by_default]
    needed = {tool for name in selected for tool in BENCHMARKS[name].tools}
    if "h2load" in needed and shutil.which("h2load") is None:
        parser.error("h2load not found: apt-get install nghttp2-client (`make bench` does)")
    shape = LoadShape(**{field: getattr(arguments, field) for _, field, *_ in _LOAD_FLAGS})
    for name in selected:
        BENCHMARKS[name].run(shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
