"""Drives one HTTP/2 endpoint with h2load and reads back throughput and per-request latency.

h2load prints req/s but no percentiles, so latency comes from its --log-file (one
tab-separated row per request: start µs since epoch, HTTP status, response time µs).
It knows nothing of gRPC: a failed call is still HTTP 200, so callers also check that
the DATA bytes add up to one full response frame per request (see `LoadRun.data_bytes`).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.bench.benchmark import LoadShape
from tests.bench.machine import pinned

GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")

_FINISHED = re.compile(r"finished in \S+, ([\d.]+) req/s")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout"
)
_DATA_BYTES = re.compile(r"traffic: .*\((\d+)\) data")


class LoadFailed(RuntimeError):
    """h2load could not run, or some request failed; the message says which and how."""


@dataclass(frozen=True)
class LoadRun:
    """The figures of one h2load run over its measured period."""

    requests_per_second: float
    succeeded: int
    # DATA frame payload bytes received. Without --warm-up-time this covers exactly the
    # counted requests (with it, h2load also counts the warm-up's bytes).
    data_bytes: int
    latencies_us: tuple[int, ...]

    def percentile_ms(self, fraction: float) -> float:
        return percentile(self.latencies_us, fraction) / 1000


def percentile(samples: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `fraction` at or below it."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def drive(
    url: str,
    *,
    payload: Path,
    shape: LoadShape,
    duration_seconds: float,
    log_file: Path,
    headers: Sequence[str] = (),
) -> LoadRun:
    """POST `payload` to `url` for `duration_seconds`, with `headers` ("name: value") on
    top of the gRPC ones; raise LoadFailed on any failure."""
    # h2load appends to an existing log file; each run needs rows of its own only.
    log_file.unlink(missing_ok=True)
    command = [
        "h2load",
        f"--threads={shape.threads}",
        f"--clients={shape.clients}",
        f"--max-concurrent-streams={shape.streams_per_client}",
        f"--duration={round(duration_seconds * 1000)}ms",  # h2load rejects fractions
        f"--data={payload}",
        *(f"--header={header}" for header in (*GRPC_HEADERS, *headers)),
        f"--log-file={log_file}",
        url,
    ]
    result = subprocess.run(
        pinned(command, shape.load_cpus), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LoadFailed(f"h2load exited with {result.returncode}:\n{result.stderr}")
    return _read_run(result.stdout, log_file)


def _read_run(output: str, log_file: Path) -> LoadRun:
    finished, requests, data = (
        pattern.search(output) for pattern in (_FINISHED, _REQUESTS, _DATA_BYTES)
    )
    if finished is None or requests is None or data is None:
        raise LoadFailed(f"cannot parse h2load output:\n{output}")
    _total, _started, done, succeeded, failed, errored, timeout = map(int, requests.groups())
    if failed or errored or timeout or succeeded == 0:
        raise LoadFailed(
            f"{succeeded} succeeded, {failed} failed, {errored} errored, "
            f"{timeout} timed out:\n{output}"
        )
    latencies, statuses = [], set()
    for row in log_file.read_text().splitlines():
        _start_us, status, response_us, *_later_columns = row.split("\t")
        statuses.add(status)
        latencies.append(int(response_us))
    if statuses != {"200"}:
        raise LoadFailed(f"HTTP statuses other than 200 in {log_file}: {sorted(statuses)}")
    if len(latencies) != done:
        raise LoadFailed(f"{log_file} has {len(latencies)} rows for {done} requests done")
    return LoadRun(
        requests_per_second=float(finished.group(1)),
        succeeded=succeeded,
        data_bytes=int(data.group(1)),
        latencies_us=tuple(latencies),
    )
