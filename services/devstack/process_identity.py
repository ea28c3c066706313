"""Which process a pid is, read from /proc: the proof the stack needs before it signals a
recorded pid or deletes a lock file that names one, since pids are reused.

A pid plus its start time (field 22 of /proc/<pid>/stat, clock ticks since boot) names one
process for the life of the machine; run.json records both. Every process the launcher spawns
also carries STATE_DIR_VARIABLE in its environment, so leftovers of a state dir can be found
even without a record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Set in the environment of every process the launcher spawns: the state dir it belongs to.
STATE_DIR_VARIABLE = "LASTMILE_DEVSTACK_STATE_DIR"
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    """What /proc says about one live (or zombie) process. `exe` and `cwd` are None when we
    may not read them (another user's process, and we are not root)."""

    pid: int
    state: str  # R, S, D, Z (zombie), ...
    uid: int
    start_time: int
    exe: Path | None
    cwd: Path | None
    argv: tuple[str, ...]

    @property
    def zombie(self) -> bool:
        """Dead but not yet reaped: it holds no port, no memory and no lock any more."""
        return self.state in ("Z", "X")

    @property
    def program(self) -> str:
        """The executable's file name ('postgres', 'nats-server', 'python3.11')."""
        if self.exe is not None:
            return self.exe.name.removesuffix(" (deleted)")
        return Path(self.argv[0]).name if self.argv else ""


def identify(pid: int) -> ProcessIdentity | None:
    """The process `pid` as /proc shows it now, or None when there is none."""
    base = _PROC / str(pid)
    try:
        stat = (base / "stat").read_text()
        status = (base / "status").read_text()
        raw_argv = (base / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    after_name = stat[stat.rindex(")") + 2 :].split()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    return ProcessIdentity(
        pid=pid,
        state=after_name[0],
        uid=int(uid_line.split()[1]),
        start_time=int(after_name[19]),
        exe=_link(base / "exe"),
        cwd=_link(base / "cwd"),
        argv=tuple(part.decode(errors="replace") for part in raw_argv.split(b"\0") if part),
    )


def _link(path: Path) -> Path | None:
    try:
        return Path(os.readlink(path))
    except OSError:  # gone, a zombie, or not ours to read
        return None


def is_alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie is not)."""
    found = identify(pid)
    return found is not None and not found.zombie


def is_same_process(pid: int, start_time: int | None) -> bool:
    """Whether `pid` is still the live process that was recorded with `start_time`."""
    found = identify(pid)
    return (
        found is not None
        and not found.zombie
        and (start_time is None or found.start_time == start_time)
    )


def start_time_of(pid: int) -> int | None:
    found = identify(pid)
    return None if found is None else found.start_time


def state_dir_of(pid: int) -> Path | None:
    """The state dir in the environment the launcher gave `pid`, if it gave one."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = f"{STATE_DIR_VARIABLE}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return Path(entry[len(prefix) :].decode(errors="replace"))
    return None


def processes_of_state_dir(state_dir: Path) -> Iterator[int]:
    """The live pids whose environment says they belong to `state_dir`, except ours."""
    wanted = state_dir.resolve()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if state_dir_of(pid) == wanted and is_alive(pid):
            yield pid
