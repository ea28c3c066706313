"""soak: create and then cancel deliveries through the edge at a steady rate for a long time
(30 minutes by default), with the whole mesh on this machine, printing every minute each
component's memory and the minute's throughput and latency, and every error as it happens.
The goal is memory that stays flat and no error at all; any error fails the run.

Each delivery is cancelled right after it is created: with no courier in the mesh, every
delivery left open would wait in dispatch's queue for ever, and that queue's growth would
hide whatever else the memory does. A cancel also sends the delivery through the outbox,
dispatch's consumer and tracking once more.

The rate is half the measured capacity: unless --soak-rate gives one, a short closed-loop
probe (PROBE_CLIENTS creates at a time for PROBE_SECONDS) measures what the mesh sustains
on this machine first. Arrivals are open-loop (one every 1/rate seconds, however slow the
answers), so a slowdown shows as latency and in-flight requests, not as a lower rate."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles

import httpx

from services.devstack.launcher import LocalMesh
from tests.bench.benchmark import Benchmark, LoadShape
from tests.bench.create_delivery_rest import delivery_body
from tests.bench.h2load import LoadFailed
from tests.bench.local_mesh import Edge, describe_mesh, running_mesh, scrape_metrics
from tests.bench.machine import describe_machine, load_average
from tests.bench.memory import component_mib

PROBE_CLIENTS = 32
PROBE_SECONDS = 15.0
REPORT_SECONDS = 60.0
MAX_IN_FLIGHT = 512
CREATE_TIMEOUT_SECONDS = 15.0
# Access tokens last 15 minutes; the soak logs in again well before that.
RELOGIN_SECONDS = 10 * 60.0
ERRORS_SHOWN_PER_MINUTE = 50
PASSWORD = "a long enough soak password"
TREES = frozenset({"postgres"})  # shown as the PSS of the whole process tree


@dataclass
class Minute:
    """What one reporting interval saw."""

    ok: int = 0
    errors: int = 0
    shown: int = 0
    latencies: list[float] = field(default_factory=list)


class Soak:
    """A customer creating deliveries at `rate` per second, with every answer counted."""

    def __init__(self, client: httpx.AsyncClient, email: str, started: float) -> None:
        self._client, self._email, self._started = client, email, started
        self._token, self._token_at = "", 0.0
        self.minute = Minute()
        self.total_ok = self.total_errors = 0
        self._in_flight: set[asyncio.Task[None]] = set()

    async def log_in(self) -> None:
        response = await self._client.post(
            "/v1/sessions", json={"email": self._email, "password": PASSWORD}
        )
        response.raise_for_status()
        self._token, self._token_at = response.json()["accessToken"], time.monotonic()

    async def create(self) -> None:
        started = time.monotonic()
        headers = {"authorization": f"Bearer {self._token}", "idempotency-key": str(uuid.uuid4())}
        try:
            response = await self._client.post(
                "/v1/deliveries", json=delivery_body(), headers=headers
            )
        except httpx.HTTPError as error:
            self._error(f"{type(error).__name__}: {error}")
            return
        if response.status_code != 200:
            self._error(f"create: HTTP {response.status_code} {response.text[:300]}")
            return
        delivery_id = response.json()["delivery"]["deliveryId"]
        try:
            cancelled = await self._client.post(
                f"/v1/deliveries/{delivery_id}:cancel", json={"reason": "soak"}, headers=headers
            )
        except httpx.HTTPError as error:
            self._error(f"cancel: {type(error).__name__}: {error}")
            return
        if cancelled.status_code != 200:
            self._error(f"cancel: HTTP {cancelled.status_code} {cancelled.text[:300]}")
            return
        self.minute.ok += 1
        self.total_ok += 1
        self.minute.latencies.append(time.monotonic() - started)

    def _error(self, what: str) -> None:
        self.minute.errors += 1
        self.total_errors += 1
        if self.minute.shown < ERRORS_SHOWN_PER_MINUTE:
            self.minute.shown += 1
            print(f"  [{_clock(time.monotonic() - self._started)}] error: {what}", flush=True)

    async def run(self, rate: float, seconds: float, each_minute: _Report) -> None:
        """Open-loop arrivals at `rate`/s for `seconds`; `each_minute` reports and resets."""
        interval, next_arrival = 1.0 / rate, time.monotonic()
        end, next_report = next_arrival + seconds, next_arrival + REPORT_SECONDS
        while (now := time.monotonic()) < end:
            if now - self._token_at > RELOGIN_SECONDS:
                await self.log_in()
            if now >= next_report:
                each_minute(self.minute, len(self._in_flight))
                self.minute, next_report = Minute(), next_report + REPORT_SECONDS
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                self._error(f"{MAX_IN_FLIGHT} creates still waiting for an answer; one skipped")
            else:
                task = asyncio.create_task(self.create())
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            next_arrival += interval
            await asyncio.sleep(max(0.0, next_arrival - time.monotonic()))
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=CREATE_TIMEOUT_SECONDS * 2)
        each_minute(self.minute, len(self._in_flight))


class _Report:
    """Prints one line per minute: throughput, latency and every component's memory."""

    def __init__(self, mesh: LocalMesh, started: float) -> None:
        self._mesh, self._started = mesh, started
        self.memory: list[dict[str, float | None]] = []
        names = [c.name for c in mesh.components]
        self._row = "{:>6} {:>7} {:>6} {:>7} {:>7} {:>7} {:>6} " + " ".join(
            f"{{:>{max(len(n), 6)}}}" for n in names
        )
        shown = [f"{n}*" if n in TREES else n for n in names]
        print(self._row.format("at", "ok", "errors", "req/s", "p50 ms", "p99 ms", "queue", *shown))

    def __call__(self, minute: Minute, in_flight: int) -> None:
        elapsed = time.monotonic() - self._started
        pids = {c.name: c.pid for c in self._mesh.components if c.pid is not None}
        memory = component_mib(pids, TREES)
        self.memory.append(memory)
        p50, p99 = _percentiles(minute.latencies)
        seconds = elapsed - REPORT_SECONDS * (len(self.memory) - 1)
        print(
            self._row.format(
                _clock(elapsed), minute.ok, minute.errors,
                f"{minute.ok / max(seconds, 1e-9):.1f}", p50, p99, in_flight,
                *(_mib(memory.get(c.name)) for c in self._mesh.components),
            ),
            flush=True,
        )  # fmt: skip
        if minute.errors > minute.shown:
            print(f"  ... and {minute.errors - minute.shown} more errors in that minute")


def run(shape: LoadShape) -> None:
    minutes = shape.soak_minutes
    print(f"soak: create + cancel deliveries through the edge for {minutes:g} min (whole mesh)")
    print(f"machine: {describe_machine()}, load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as scratch:
        ok, errors, memory = asyncio.run(_soak(shape, Path(scratch)))
    _print_summary(ok, errors, memory)
    if errors:
        raise LoadFailed(f"soak: {errors} errors in {ok + errors} creates (the goal is 0)")


async def _soak(shape: LoadShape, work: Path) -> tuple[int, int, list[dict[str, float | None]]]:
    async with running_mesh(work / "mesh") as mesh:
        print(f"mesh:    {describe_mesh(mesh)}")
        edge = Edge(mesh.ports.edge)
        email = f"soak-{uuid.uuid4().hex[:12]}@example.com"
        account = {"email": email, "displayName": "Soak Customer", "role": "ROLE_CUSTOMER"}
        signing_up = {"account": account, "password": PASSWORD}
        await asyncio.to_thread(edge.post, "/v1/accounts", signing_up)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=edge.base_url, limits=limits, timeout=CREATE_TIMEOUT_SECONDS
        ) as client:
            rate = shape.soak_rate or await _half_capacity(client, email)
            print(f"rate:    {rate:.1f} deliveries/s for {shape.soak_minutes:g} min (latency: "
                  "create, then cancel; memory: RSS per process in MiB, * = PSS of the whole "
                  "process tree)\n")  # fmt: skip
            started = time.monotonic()
            soak = Soak(client, email, started)
            await soak.log_in()
            report = _Report(mesh, started)
            await soak.run(rate, shape.soak_minutes * 60, report)
        pending = await asyncio.to_thread(scrape_metrics, mesh.ports.admin("orders"))
        print(f"\norders' outbox at the end: {int(pending['lastmile_outbox_pending'])} pending")
        return soak.total_ok, soak.total_errors, report.memory


async def _half_capacity(client: httpx.AsyncClient, email: str) -> float:
    """Half of what PROBE_CLIENTS closed-loop clients get through in PROBE_SECONDS."""
    probe = Soak(client, email, time.monotonic())
    await probe.log_in()
    end = time.monotonic() + PROBE_SECONDS

    async def client_loop() -> None:
        while time.monotonic() < end:
            await probe.create()

    await asyncio.gather(*(client_loop() for _ in range(PROBE_CLIENTS)))
    capacity = probe.total_ok / PROBE_SECONDS
    print(f"probe:   {capacity:.1f} deliveries/s with {PROBE_CLIENTS} clients for "
          f"{PROBE_SECONDS:g} s ({probe.total_errors} errors); soaking at half")  # fmt: skip
    if probe.total_ok == 0:
        raise LoadFailed("the capacity probe created nothing")
    return capacity / 2


def _print_summary(ok: int, errors: int, memory: list[dict[str, float | None]]) -> None:
    print(f"\ncreated and cancelled: {ok} ok, {errors} errors (goal: 0)")
    if not memory:
        return
    first, last = memory[0], memory[-1]
    print("memory (MiB): first minute -> last minute, peak")
    for name in first:
        seen = [m[name] for m in memory if m.get(name) is not None]
        start, end = first.get(name), last.get(name)
        if start is None or end is None or not seen:
            print(f"  {name:<10} exited during the soak")
            continue
        growth = (end - start) / start * 100 if start else 0.0
        print(f"  {name:<10} {start:8.1f} -> {end:8.1f} ({growth:+.1f} %), "
              f"peak {max(v for v in seen if v is not None):.1f}")  # fmt: skip


def _percentiles(latencies: list[float]) -> tuple[str, str]:
    if len(latencies) < 2:
        return "-", "-"
    cuts = quantiles(latencies, n=100, method="inclusive")
    return f"{cuts[49] * 1000:.1f}", f"{cuts[98] * 1000:.1f}"


def _mib(value: float | None) -> str:
    return "gone" if value is None else f"{value:.0f}"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


SOAK = Benchmark(
    name="soak",
    summary="create+cancel at half capacity for 30 min (--soak-minutes): memory, errors",
    run=run,
    tools=(),
)
