"""run.json: what a running local mesh is made of, written by the launcher on every change
(atomically, so a reader never sees half of it) and read by `make status`, `make stop` and
the tests. Its keys are an interface; the launcher's module docstring describes them."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUS_FILE = "run.json"


@dataclass(frozen=True)
class StopPlan:
    """How `make stop` stops a component when the launcher is gone: a signal then SIGKILL
    after `grace`, or `pg_ctl stop` on PostgreSQL's `data_dir`."""

    how: str = "signal"  # "signal" | "pg_ctl"
    grace: float = 10.0
    data_dir: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class ComponentRecord:
    """One component as run.json shows it. `pid` with `pid_start_time` names one process."""

    name: str
    pid: int | None
    address: str
    log: str
    state: str = "up"
    restarts: int = 0
    pid_start_time: int | None = None
    up_since: str | None = None
    last_exit: str | None = None
    last_exit_code: int | None = None
    last_exit_time: str | None = None
    stop: StopPlan = field(default_factory=StopPlan)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ComponentRecord:
        known = {key: value for key, value in entry.items() if key in cls.__dataclass_fields__}
        known["stop"] = StopPlan(**entry.get("stop", {}))
        return cls(**known)


@dataclass(frozen=True)
class RunRecord:
    """The launcher (the process `make stop` signals first) and its components, in start
    order."""

    supervisor_pid: int
    supervisor_start_time: int | None
    state_dir: str
    restart_policy: str
    components: tuple[ComponentRecord, ...]

    def to_json(self) -> str:
        document = asdict(self)
        document["components"] = [asdict(component) for component in self.components]
        return json.dumps(document, indent=2)

    def write(self, state_dir: Path) -> None:
        target = state_dir / STATUS_FILE
        draft = target.with_suffix(".json.new")
        draft.write_text(self.to_json())
        os.replace(draft, target)

    @classmethod
    def read(cls, state_dir: Path) -> RunRecord | None:
        """The running mesh's record; None when no mesh is running."""
        try:
            document = json.loads((state_dir / STATUS_FILE).read_text())
        except FileNotFoundError:
            return None
        return cls(
            supervisor_pid=int(document["supervisor_pid"]),
            supervisor_start_time=document.get("supervisor_start_time"),
            state_dir=document.get("state_dir", str(state_dir)),
            restart_policy=document.get("restart_policy", "never"),
            components=tuple(ComponentRecord.from_json(c) for c in document["components"]),
        )


def remove_run_file(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATUS_FILE).unlink()
