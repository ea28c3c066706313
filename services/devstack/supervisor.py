"""The supervisor of the local mesh: it starts each component (gated on its health), watches
every one of them (PostgreSQL and NATS as much as the services and Envoys), reports and reaps
a component that exits, starts it again as the restart policy says after a crash-loop backoff,
keeps run.json current, and stops everything newest first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from services.devstack.errors import DevstackError
from services.devstack.process import SupervisedProcess, describe_exit
from services.devstack.process_identity import start_time_of
from services.devstack.restart_policy import Backoff, CrashLoop, RestartPolicy
from services.devstack.run_file import ComponentRecord, RunRecord, StopPlan, remove_run_file

log = logging.getLogger("lastmile.devstack")
HOLD_DIR = "hold"


class ComponentState(StrEnum):
    """Where a component is in its life, as run.json and `make status` show it."""

    STARTING = "starting"  # spawned for the first time, not yet healthy
    UP = "up"  # healthy; watched
    RESTARTING = "restarting"  # exited; waiting out its backoff or starting again
    CRASHED = "crashed"  # exited and, by the restart policy, stays down
    STOPPING = "stopping"
    STOPPED = "stopped"


class Server(Protocol):
    """What the supervisor runs: one process, started and ready, or stopped."""

    @property
    def process(self) -> SupervisedProcess: ...

    async def start(self) -> None:
        """Spawn the process and return once it answers its health check; raise a
        DevstackError (with its log tail) if it does not."""

    async def stop(self) -> None: ...

    def stop_plan(self) -> StopPlan:
        """How `make stop` stops it should the launcher be gone."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _report_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Component:
    """A supervised component as the banner, run.json and the watcher see it."""

    name: str
    address: str
    server: Server
    crash_loop: CrashLoop
    state: ComponentState = ComponentState.STARTING
    restarts: int = 0
    up_since: float | None = None  # time.monotonic() when it last became healthy
    up_since_wall: str | None = None
    last_exit: str | None = None
    last_exit_code: int | None = None
    last_exit_time: str | None = None

    @property
    def process(self) -> SupervisedProcess:
        return self.server.process

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def record(self) -> ComponentRecord:
        return ComponentRecord(
            name=self.name, pid=self.pid, address=self.address, log=str(self.log_path),
            state=self.state.value, restarts=self.restarts,
            pid_start_time=self.process.start_time if self.pid else None,
            up_since=self.up_since_wall if self.state is ComponentState.UP else None,
            last_exit=self.last_exit, last_exit_code=self.last_exit_code,
            last_exit_time=self.last_exit_time, stop=self.server.stop_plan(),
        )  # fmt: skip


@dataclass
class Supervisor:
    """The components started so far. `watch()` must run for crashes to be seen."""

    state_dir: Path | None = None  # where run.json is kept; None: nowhere
    policy: RestartPolicy = RestartPolicy.NEVER
    backoff: Backoff = field(default_factory=Backoff)
    report: Callable[[str], None] = _report_on_stderr
    interval: float = 0.2  # how often exits are looked for
    components: list[Component] = field(default_factory=list)
    _restarting: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None
    _stopping: bool = False
    _written: str = ""

    async def start(self, name: str, address: str, server: Server) -> Component:
        """Start `server` as component `name` and watch it from the moment it is healthy."""
        component = Component(name, address, server, CrashLoop(self.backoff))
        self.components.append(component)
        await server.start()
        self._became_healthy(component)
        return component

    def _became_healthy(self, component: Component) -> None:
        component.state = ComponentState.UP
        component.up_since = time.monotonic()
        component.up_since_wall = _now()
        self.save()

    def watch_in_background(self) -> None:
        """Start watching (until stop_all); components are watched once they are healthy."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self.watch(), name="supervisor-watch")

    async def watch(self) -> None:
        """Until cancelled: reap and handle every exit of a healthy component, keep run.json
        current (a new pid is recorded as soon as it exists)."""
        while True:
            for component in self.components:
                if component.state is ComponentState.UP and not component.process.running:
                    self._exited(component)
            self.save()
            await asyncio.sleep(self.interval)

    def _exited(self, component: Component) -> None:
        # `running` polled the process, so it is reaped already: no zombie is left behind.
        code = component.process.exit_code
        if code is None:
            return
        ran_for = time.monotonic() - (component.up_since or time.monotonic())
        self._record_exit(component, code)
        self.report(
            f"\n!! {component.name} (pid {component.process.last_pid}) exited unexpectedly "
            f"({describe_exit(code)}) after {ran_for:.0f}s up; last lines of "
            f"{component.log_path}:\n{component.process.log_tail()}\n"
        )
        if self._stopping or not self.policy.restarts_after(code):
            component.state = ComponentState.CRASHED
            self.report(f"!! {component.name} stays down (restart policy: {self.policy})")
        else:
            delay = component.crash_loop.next_delay(ran_for)
            self._schedule_restart(component, delay)
        self.save()

    def _record_exit(self, component: Component, code: int) -> None:
        component.last_exit = describe_exit(code)
        component.last_exit_code = code
        component.last_exit_time = _now()
        component.up_since = None

    def _schedule_restart(self, component: Component, delay: float) -> None:
        component.state = ComponentState.RESTARTING
        self.report(
            f"-- restarting {component.name} in {delay:g}s "
            f"(restart {component.restarts + 1}, policy {self.policy})"
        )
        self._restarting[component.name] = asyncio.create_task(
            self._restart(component, delay), name=f"restart-{component.name}"
        )

    def hold_file(self, name: str) -> Path | None:
        """While this file exists, `name` is not started again (fault tests make outages)."""
        return None if self.state_dir is None else self.state_dir / HOLD_DIR / name

    async def _wait_while_held(self, component: Component) -> None:
        hold = self.hold_file(component.name)
        if hold is None or not hold.exists():
            return
        self.report(f"-- {component.name} is held down until {hold} is removed")
        while True:  # a file, not an Event: tests in other processes remove it
            await asyncio.sleep(self.interval)
            if not hold.exists():
                return

    async def _restart(self, component: Component, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            await self._wait_while_held(component)
            component.restarts += 1
            self.save()
            try:
                await component.server.start()
            except (DevstackError, OSError) as failure:
                code = component.process.exit_code
                if code is not None:
                    self._record_exit(component, code)
                delay = component.crash_loop.next_delay(None)
                self.report(
                    f"\n!! {component.name} did not come back: {failure}\n"
                    f"-- restarting {component.name} in {delay:g}s "
                    f"(restart {component.restarts + 1}, policy {self.policy})"
                )
                self.save()
                continue
            self._became_healthy(component)
            self.report(
                f"-- {component.name} is up again: pid {component.pid}, "
                f"restart {component.restarts}"
            )
            return

    @property
    def gave_up(self) -> list[Component]:
        """Components that crashed and stay down."""
        return [c for c in self.components if c.state is ComponentState.CRASHED]

    async def stop_all(self) -> None:
        """Stop everything started, newest first; safe to call more than once."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for task in self._restarting.values():
            task.cancel()
        for task in self._restarting.values():
            with contextlib.suppress(asyncio.CancelledError, DevstackError):
                await task
        self._restarting.clear()
        for component in reversed(self.components):
            if component.state is ComponentState.STOPPED:
                continue
            component.state = ComponentState.STOPPING
            self.save()
            try:
                await component.server.stop()
            except DevstackError as failure:
                log.warning("stopping %s failed: %s", component.name, failure)
            component.state = ComponentState.STOPPED
            self.save()
        if self.state_dir is not None and self._written:
            # Only ours: a launcher refused for a busy state dir leaves the running one's.
            remove_run_file(self.state_dir)
            self._written = ""

    def save(self) -> None:
        """Write run.json if anything in it changed."""
        if self.state_dir is None or (self._stopping and not self._written):
            return
        record = RunRecord(
            supervisor_pid=os.getpid(),
            supervisor_start_time=start_time_of(os.getpid()),
            state_dir=str(self.state_dir),
            restart_policy=self.policy.value,
            components=tuple(component.record() for component in self.components),
        )
        text = record.to_json()
        if text != self._written:
            try:
                record.write(self.state_dir)
            except OSError as failure:  # e.g. a full disk: supervising goes on regardless
                log.warning("could not write run.json: %s", failure)
                return
            self._written = text
