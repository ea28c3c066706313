"""Drives one REST endpoint with wrk and reads back throughput, latency and every status.

wrk counts a 503 as a completed request, so rest_post.lua counts responses by status (and
200s whose body lacks the expected field) and prints them with the percentiles as JSON.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.bench.h2load import LoadFailed

SCRIPT = Path(__file__).with_name("rest_post.lua")
_REPORT_PREFIX = "wrk-report "
# Far beyond any latency worth measuring; a request slower than this is a timeout error.
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class RestLoad:
    """What to send: a JSON body, the field every answer must carry, and its credentials."""

    url: str
    body: Path
    expect: str
    token: str = ""
    # When set, each request carries a unique Idempotency-Key starting with it.
    idempotency_key_prefix: str = ""


@dataclass(frozen=True)
class RestRun:
    """The figures of one wrk run over its measured period."""

    requests: int
    duration_seconds: float
    statuses: dict[int, int]
    unexpected_bodies: int
    p50_ms: float
    p99_ms: float
    socket_errors: dict[str, int]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds

    @property
    def not_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def problems(self) -> str:
        """Empty when every request got a 2xx with the expected body; else what went wrong."""
        found = []
        if self.not_2xx:
            found.append(f"{self.not_2xx} non-2xx responses (by status: {self.statuses})")
        if self.unexpected_bodies:
            found.append(f"{self.unexpected_bodies} 200s without the expected field")
        if any(self.socket_errors.values()):
            found.append(f"socket errors {self.socket_errors}")
        if self.requests == 0:
            found.append("no request completed")
        return "; ".join(found)


def drive(load: RestLoad, *, connections: int, threads: int, duration_seconds: float) -> RestRun:
    """Keep `connections` requests in flight (HTTP/1.1, one per connection) for about
    `duration_seconds` (wrk takes whole seconds); raise LoadFailed if wrk cannot run."""
    if shutil.which("wrk") is None:
        raise LoadFailed("wrk not found: apt-get install wrk (`make bench` does)")
    command = [
        "wrk",
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, math.ceil(duration_seconds))}s",
        f"--timeout={TIMEOUT_SECONDS}s",
        f"--script={SCRIPT}",
        load.url,
    ]
    environment = {
        **os.environ,
        "BENCH_WRK_BODY": str(load.body),
        "BENCH_WRK_EXPECT": load.expect,
        "BENCH_WRK_TOKEN": load.token,
        "BENCH_WRK_KEY_PREFIX": load.idempotency_key_prefix,
    }
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0 or result.stderr.strip():
        # wrk reports a broken script on stderr and still exits 0.
        raise LoadFailed(f"wrk exited with {result.returncode}:\n{result.stderr}{result.stdout}")
    return _read_run(result.stdout)


def _read_run(output: str) -> RestRun:
    reports = [line for line in output.splitlines() if line.startswith(_REPORT_PREFIX)]
    if len(reports) != 1:
        raise LoadFailed(f"no report from {SCRIPT.name} in wrk's output:\n{output}")
    report = json.loads(reports[0].removeprefix(_REPORT_PREFIX))
    return RestRun(
        requests=report["requests"],
        duration_seconds=report["duration_us"] / 1e6,
        statuses={int(status): count for status, count in report["statuses"].items()},
        unexpected_bodies=report["unexpected_bodies"],
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        socket_errors=report["socket_errors"],
    )


def wrk_version() -> str:
    # `wrk -v` prints its banner and exits with 1.
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (result.stdout.splitlines() or ["unknown"])[0].split(" Copyright")[0]
