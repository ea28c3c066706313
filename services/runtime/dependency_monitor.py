"""Knows, for each dependency a service needs to serve, whether it can be reached: it probes
each one periodically, and probes at once when a call reports that one failed.

A change is logged once (a warning when a dependency goes down, an info line when it is back)
and handed to `on_change`, which the server uses to drive its health statuses; the failing
calls themselves only get UNAVAILABLE, with no log line of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("lastmile.dependencies")

# Called with a time limit in seconds; raises when the dependency cannot be reached.
Probe = Callable[[float], Awaitable[None]]
ChangeListener = Callable[[str, bool], Awaitable[None]]


class ProbeInconclusive(Exception):
    """A probe that could not tell (the pool had no connection free in time): neither up
    nor down, so the state stays as it was."""


@dataclass
class _Watched:
    probe: Probe
    up: bool = True
    last_error: str = ""


class DependencyMonitor:
    """The dependencies of one process, by name (`dependencies.DATABASE`, `BROKER`), each up
    until a probe fails. Empty for a service that has none (pricing): then always up."""

    def __init__(self, *, interval_seconds: float = 1.0, timeout_seconds: float = 2.0) -> None:
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._watched: dict[str, _Watched] = {}
        self._listeners: list[ChangeListener] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Failures of dependencies nobody probes are logged, at most once a minute each.
        self._unwatched_logged: dict[str, float] = {}

    def watch(self, name: str, probe: Probe) -> None:
        """Probe `name` with `probe(timeout)` from `start` on."""
        self._watched[name] = _Watched(probe)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._watched)

    def is_up(self, name: str) -> bool:
        watched = self._watched.get(name)
        return watched is None or watched.up

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._watched and self._task is None:
            self._task = asyncio.create_task(self._run(), name="dependency-monitor")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def call_failed(self, name: str, error: BaseException) -> None:
        """A call could not reach `name`: probe now rather than at the next interval, so
        health follows within one probe's time (and one stale connection that fails a
        call, while the server is fine, does not flip readiness)."""
        if name in self._watched:
            self._watched[name].last_error = _describe(error)
            self._wake.set()
            return
        now = time.monotonic()
        if now - self._unwatched_logged.get(name, -60.0) >= 60.0:
            self._unwatched_logged[name] = now
            log.warning(
                "the %s is unreachable: %s", name, _describe(error),
                extra={"dependency": name, "error": _describe(error)},
            )  # fmt: skip

    async def probe_all(self) -> None:
        """Probe every dependency once and record what changed."""
        for name, watched in self._watched.items():
            try:
                # The probe bounds each step by the timeout; this bounds the whole of it.
                await asyncio.wait_for(watched.probe(self._timeout), timeout=2 * self._timeout)
            except ProbeInconclusive:
                continue
            except Exception as failure:
                await self._record(name, watched, up=False, error=failure)
            else:
                await self._record(name, watched, up=True, error=None)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self.probe_all()
            except Exception:
                # A listener failing must not end the monitoring.
                log.exception("recording a dependency's state failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)

    async def _record(
        self, name: str, watched: _Watched, *, up: bool, error: BaseException | None
    ) -> None:
        if watched.up == up:
            return
        watched.up = up
        if up:
            log.info("the %s is reachable again", name, extra={"dependency": name})
        else:
            reason = _describe(error) if error is not None else watched.last_error
            log.warning(
                "the %s is unreachable; reporting NOT_SERVING until it is back: %s", name, reason,
                extra={"dependency": name, "error": reason},
            )  # fmt: skip
        for listener in self._listeners:
            await listener(name, up)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
