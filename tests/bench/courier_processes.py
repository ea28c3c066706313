"""The courier load generator processes (tests/bench/courier_load.py) seen from the
benchmark: started pinned, their JSON lines followed, always stopped by pid; and the
Prometheus text that the services' admin /metrics serve, read as counters and histograms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.machine import pinned
from tests.bench.server_process import STOP_GRACE_SECONDS, tail

_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? (\S+)")
_LE = re.compile(r'le="([^"]+)"')


class LoadGeneratorFailed(RuntimeError):
    """A load generator exited before it was asked to, or never got where it should."""


@dataclass
class Generator:
    """One running generator and every JSON line it printed so far."""

    process: asyncio.subprocess.Process
    log: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    def latest(self, event: str = "progress") -> dict[str, Any] | None:
        for line in reversed(self.events):
            if line["event"] == event:
                found: dict[str, Any] = line
                return found
        return None

    def tail(self) -> str:
        return tail(self.log, lines=15)


@dataclass
class GeneratorGroup:
    """The generators of one benchmark, summed where that makes sense."""

    generators: list[Generator]

    @property
    def pids(self) -> list[int]:
        return [g.pid for g in self.generators]

    def total(self, name: str) -> int:
        """A counter from each generator's latest progress line, summed."""
        return sum(int((g.latest() or {}).get(name, 0)) for g in self.generators)

    def maximum(self, name: str) -> int:
        """A counter from each generator's latest progress line, the largest."""
        return max((int((g.latest() or {}).get(name, 0)) for g in self.generators), default=0)

    def errors(self) -> list[str]:
        """The first few errors each generator reported."""
        return [e for g in self.generators for e in (g.latest() or {}).get("errors", [])]

    def check_alive(self) -> None:
        for generator in self.generators:
            if generator.process.returncode is not None:
                raise LoadGeneratorFailed(
                    f"load generator {generator.pid} exited with {generator.process.returncode}"
                    f":\n{generator.tail()}"
                )

    def rate(self, name: str, start: float, end: float) -> float:
        """Per second, from each generator's progress lines between two monotonic instants
        (the first and last line inside the window), summed over the generators."""
        total = 0.0
        for generator in self.generators:
            inside = [
                line
                for line in generator.events
                if line["event"] == "progress" and start <= line["t"] <= end
            ]
            if len(inside) >= 2 and inside[-1]["t"] > inside[0]["t"]:
                total += (inside[-1][name] - inside[0][name]) / (inside[-1]["t"] - inside[0]["t"])
        return total


def load_command(arguments: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "tests.bench.courier_load", *arguments]


@asynccontextmanager
async def running_generators(
    commands: Sequence[Sequence[str]], *, cpus: str, logs: Path
) -> AsyncIterator[GeneratorGroup]:
    """Start each command pinned to `cpus`; stop every one by pid on the way out."""
    generators: list[Generator] = []
    pumps: list[asyncio.Task[None]] = []
    try:
        for number, command in enumerate(commands):
            log = logs / f"load-{number}.log"
            with log.open("wb") as sink:
                process = await asyncio.create_subprocess_exec(
                    *pinned(command, cpus), stdout=asyncio.subprocess.PIPE, stderr=sink
                )
            generator = Generator(process, log)
            generators.append(generator)
            pumps.append(asyncio.create_task(_pump(generator)))
        yield GeneratorGroup(generators)
    finally:
        for generator in generators:
            await _stop(generator.process)
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def _pump(generator: Generator) -> None:
    stream = generator.process.stdout
    assert stream is not None
    while line := await stream.readline():
        with contextlib.suppress(json.JSONDecodeError):
            generator.events.append(json.loads(line))
            generator.changed.set()


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)  # taskset execs the generator: this is its pid
    try:
        await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def wait_for_event(
    generator: Generator, event: str, *, within: float, **fields: Any
) -> dict[str, Any]:
    """The first line of `event` that has `fields` (waiting for it); raises if the
    generator exits first."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while True:
        for line in generator.events:
            if line["event"] == event and all(line.get(k) == v for k, v in fields.items()):
                return line
        if generator.process.returncode is not None:
            raise LoadGeneratorFailed(
                f"load generator exited with {generator.process.returncode} before "
                f"'{event}':\n{generator.tail()}"
            )
        if loop.time() > give_up:
            raise LoadGeneratorFailed(f"no '{event}' from the load generator in {within:g} s")
        generator.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(generator.changed.wait(), timeout=0.5)


# -- Prometheus text ----------------------------------------------------------------


def counter(text: str, name: str, labels: str | None = None) -> float:
    """A sample's value, summed over its label sets, or of the one label set written as
    `labels` (e.g. 'outcome="offered"'); 0 if absent."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group(1) == name and labels in (None, match.group(2)):
            total += float(match.group(3))
    return total


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts by upper bound (+Inf included), summed over label sets."""
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match.group(1) != f"{name}_bucket":
            continue
        le = _LE.search(match.group(2) or "")
        if le:
            bound = math.inf if le.group(1) == "+Inf" else float(le.group(1))
            buckets[bound] = buckets.get(bound, 0.0) + float(match.group(3))
    return buckets


def bucket_delta(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {bound: count - before.get(bound, 0.0) for bound, count in after.items()}


def quantile_bound(buckets: dict[float, float], quantile: float) -> float | None:
    """The smallest bucket bound at or below which `quantile` of the observations fall;
    None without observations. The true quantile lies in (previous bound, this bound]."""
    total = buckets.get(math.inf, 0.0)
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= quantile * total:
            return bound
    return math.inf


def previous_bound(buckets: dict[float, float], bound: float) -> float:
    lower = [b for b in sorted(buckets) if b < bound]
    return lower[-1] if lower else 0.0


def describe_bound(buckets: dict[float, float], quantile: float) -> str:
    """e.g. '0.1 s < p99 <= 0.25 s' (the bucket the quantile falls in)."""
    bound = quantile_bound(buckets, quantile)
    label = f"p{quantile * 100:g}"
    if bound is None:
        return f"{label} n/a (no observations)"
    lower = previous_bound(buckets, bound)
    upper = "+Inf" if math.isinf(bound) else f"{bound:g} s"
    return f"{lower:g} s < {label} <= {upper}" if lower > 0 else f"{label} <= {upper}"


def share_at_most(buckets: dict[float, float], bound: float) -> float | None:
    """The fraction of observations at or below `bound` (a bucket bound)."""
    total = buckets.get(math.inf, 0.0)
    if total <= 0 or bound not in buckets:
        return None
    return buckets[bound] / total
