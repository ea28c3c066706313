"""The components a local mesh started: each is stopped with the mesh, newest first, and
their list is written to run.json, which `make status` and `make stop` read."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.devstack.errors import DevstackError
from services.devstack.process import SupervisedProcess

log = logging.getLogger("lastmile.devstack")
STATUS_FILE = "run.json"


@dataclass
class Component:
    """A started component as the banner, the status file and the monitor see it."""

    name: str
    pid: int | None
    log_path: Path
    address: str
    process: SupervisedProcess | None = None  # None for postgres/nats (their own classes)
    expected_exit: bool = False


@dataclass
class Supervisor:
    """The components started so far, and how to stop each."""

    components: list[Component] = field(default_factory=list)
    _stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def add(self, component: Component, stop: Callable[[], Awaitable[None]]) -> None:
        self._stops.append(stop)
        self.components.append(component)

    def supervise(self, name: str, process: SupervisedProcess, address: str, grace: float) -> None:
        """Show a spawned process as a component and stop it (SIGTERM, then `grace`) with the
        mesh; its exit from then on is expected."""
        component = Component(name, process.pid, process.log_path, address, process)

        async def stop() -> None:
            component.expected_exit = True
            await process.stop(signal.SIGTERM, grace=grace)

        self.add(component, stop)

    async def stop_all(self) -> None:
        """Stop everything started, newest first; safe to call more than once."""
        while self._stops:
            stop = self._stops.pop()
            try:
                await stop()
            except DevstackError as failure:
                log.warning("stopping a component failed: %s", failure)

    def crashed(self) -> list[Component]:
        return [
            c for c in self.components
            if c.process is not None and not c.expected_exit and not c.process.running
        ]  # fmt: skip


def write_status(state_dir: Path, components: list[Component]) -> None:
    """Record this process (the one `make stop` signals) and every component."""
    (state_dir / STATUS_FILE).write_text(json.dumps({
        "supervisor_pid": os.getpid(),
        "components": [
            {"name": c.name, "pid": c.pid, "address": c.address, "log": str(c.log_path)}
            for c in components
        ],
    }, indent=2))  # fmt: skip


def read_status(state_dir: Path) -> dict[str, object] | None:
    """The running mesh's status file; None when no mesh is running."""
    try:
        status: dict[str, object] = json.loads((state_dir / STATUS_FILE).read_text())
    except FileNotFoundError:
        return None
    return status


def remove_status(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATUS_FILE).unlink()
