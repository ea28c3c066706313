"""`make stop`: stop the mesh of a state dir, whatever became of its launcher. A live launcher
is asked (SIGTERM) and waited for; if it is gone (killed with SIGKILL) or does not finish,
the components in run.json are stopped here: PostgreSQL with `pg_ctl stop` on its data dir,
the rest with SIGTERM and then SIGKILL, each only once its pid is proven to be the recorded
process (process_identity). Last, anything still carrying the state dir's marker is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from services.devstack.postgres import LocalPostgres
from services.devstack.postgres_locks import postgres_processes
from services.devstack.process_identity import (
    is_alive,
    is_same_process,
    processes_of_state_dir,
)
from services.devstack.run_file import ComponentRecord, RunRecord, remove_run_file

# Stopped last, in this order, after everything that uses them.
_INFRASTRUCTURE = ("nats", "postgres")


async def stop_mesh(
    state_dir: Path, say: Callable[[str], None] = print, launcher_grace: float = 120.0
) -> bool:
    """Stop everything of `state_dir`; whether nothing of it is left running."""
    record = RunRecord.read(state_dir)
    if record is None:
        say("lastmile is not running (no run.json)")
    elif is_same_process(record.supervisor_pid, record.supervisor_start_time):
        await _stop_launcher(record.supervisor_pid, say, launcher_grace)
    else:
        say(f"the launcher (pid {record.supervisor_pid}) is gone; stopping its components")
    left = RunRecord.read(state_dir)  # a launcher that stopped cleanly removed it
    if left is not None:
        await _stop_components(left.components, say)
    await _stop_leftovers(state_dir, say)
    postgres_dirs = {Path(c.stop.data_dir) for c in (left.components if left else ())
                     if c.stop.how == "pg_ctl" and c.stop.data_dir}  # fmt: skip
    postgres_dirs.add((state_dir / "postgres").absolute())
    for data_dir in postgres_dirs:
        if (data_dir / "pgdata").is_dir() and await LocalPostgres(data_dir, 0).stop_orphan():
            say(f"stopped postgres on {data_dir / 'pgdata'} (pg_ctl stop)")
    remove_run_file(state_dir)
    remaining = [*processes_of_state_dir(state_dir)]
    remaining += [p.pid for d in postgres_dirs for p in postgres_processes(d / "pgdata")]
    if remaining:
        say(f"still running: pids {', '.join(map(str, sorted(set(remaining))))}")
    return not remaining


async def _stop_launcher(pid: int, say: Callable[[str], None], grace: float) -> None:
    os.kill(pid, signal.SIGTERM)
    say(f"asked the launcher (pid {pid}) to stop the mesh")
    if await _exited(pid, grace):
        say("stopped.")
        return
    say(f"the launcher (pid {pid}) did not stop within {grace:.0f}s; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    await _exited(pid, 10.0)


async def _stop_components(
    components: tuple[ComponentRecord, ...], say: Callable[[str], None]
) -> None:
    """Newest first: every service and Envoy at once, then NATS, then PostgreSQL."""
    first_wave = [c for c in components if c.name not in _INFRASTRUCTURE]
    await asyncio.gather(*(_signal_component(c, say) for c in reversed(first_wave)))
    for name in _INFRASTRUCTURE:
        for component in components:
            if component.name == name and component.stop.how == "signal":
                await _signal_component(component, say)
    # PostgreSQL (stop.how == "pg_ctl") is stopped through its data dir by the caller.


async def _signal_component(component: ComponentRecord, say: Callable[[str], None]) -> None:
    if component.stop.how != "signal" or component.pid is None:
        return
    if not is_same_process(component.pid, component.pid_start_time):
        return  # exited already, or the pid now belongs to another process: not ours
    say(f"stopping {component.name} (pid {component.pid})")
    await _terminate(component.pid, component.stop.grace)


async def _stop_leftovers(state_dir: Path, say: Callable[[str], None]) -> None:
    """Processes the launcher spawned for `state_dir` that no record names (e.g. one it was
    starting again when it was killed); PostgreSQL's are left to pg_ctl."""
    leftovers = [pid for pid in processes_of_state_dir(state_dir) if not _is_postgres(pid)]
    for pid in leftovers:
        say(f"stopping pid {pid}, left over from {state_dir}")
    await asyncio.gather(*(_terminate(pid, 10.0) for pid in leftovers))


def _is_postgres(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(os.readlink(f"/proc/{pid}/exe")).name == "postgres"
    return False


async def _terminate(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not await _exited(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await _exited(pid, 10.0)


async def _exited(pid: int, grace: float) -> bool:
    """Whether `pid` (not our child: we cannot reap it) is gone or a zombie within `grace`."""
    give_up = time.monotonic() + grace
    while is_alive(pid):
        if time.monotonic() >= give_up:
            return False
        await asyncio.sleep(0.1)
    return True
