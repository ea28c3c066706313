"""PostgreSQL's lock files (`postmaster.pid` in the data dir, `.s.PGSQL.<port>.lock` beside the
socket) after a crash. PostgreSQL refuses to start while the pid in one of them answers
kill(pid, 0), which an unreaped zombie or an unrelated process that got the pid since both do.
A lock is removed only once it is proven stale: its pid is gone, a zombie, or now some other
program; never while a postgres of this data dir runs under it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.devstack.errors import DevstackError
from services.devstack.process_identity import ProcessIdentity, identify

log = logging.getLogger("lastmile.devstack")
LOCK_FILE = "postmaster.pid"


def why_stale(owner: ProcessIdentity | None, pid: int, pgdata: Path, data_uid: int) -> str | None:
    """The proof that a lock naming `pid` no longer belongs to a server of `pgdata` (owned by
    `data_uid`), or None while it may (then it must stay). `owner` is what /proc says of pid."""
    if owner is None:
        return f"pid {pid} is gone"
    if owner.zombie:
        return f"pid {pid} has exited (an unreaped zombie)"
    if owner.uid != data_uid:
        # PostgreSQL only runs as the owner of its data dir.
        return f"pid {pid} now runs as uid {owner.uid}, not as the owner of {pgdata}"
    if owner.exe is not None and owner.program != "postgres":
        return f"pid {pid} is now {owner.program}, not a postgres"
    if owner.cwd is not None and owner.cwd != pgdata:
        # The postmaster and every child it forks work in the data dir.
        return f"pid {pid} is a postgres of {owner.cwd}, not of {pgdata}"
    return None


@dataclass(frozen=True)
class LockFile:
    """One lock file and the pid it names (None: empty or half-written)."""

    path: Path
    pid: int | None

    @classmethod
    def read(cls, path: Path) -> LockFile | None:
        try:
            first = path.read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            return None
        return cls(path, int(first) if first.isdigit() else None)


def lock_files(pgdata: Path, socket_dir: Path, port: int) -> list[LockFile]:
    found = [LockFile.read(pgdata / LOCK_FILE), LockFile.read(socket_dir / f".s.PGSQL.{port}.lock")]
    return [lock for lock in found if lock is not None]


def running_server(pgdata: Path) -> int | None:
    """The pid of the live postmaster that holds `pgdata`'s lock, if one does."""
    lock = LockFile.read(pgdata / LOCK_FILE)
    if lock is None or lock.pid is None:
        return None
    stale = why_stale(identify(lock.pid), lock.pid, pgdata, pgdata.stat().st_uid)
    return None if stale else lock.pid


def postgres_processes(pgdata: Path) -> Iterator[ProcessIdentity]:
    """Live postgres processes working in `pgdata`: a postmaster and the children it forked."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        found = identify(int(entry.name))
        if (
            found is not None
            and not found.zombie
            and found.cwd == pgdata
            and found.program == "postgres"
        ):
            yield found


def stale_locks(pgdata: Path, socket_dir: Path, port: int) -> list[tuple[LockFile, str]]:
    """Every lock file of the server on `pgdata` and `port`, with the proof that it is stale;
    a DevstackError if a live server holds one."""
    data_uid = pgdata.stat().st_uid
    stale: list[tuple[LockFile, str]] = []
    for lock in lock_files(pgdata, socket_dir, port):
        if lock.pid is None:
            if any(True for _ in postgres_processes(pgdata)):
                raise DevstackError(f"{lock.path} names no pid and postgres runs on {pgdata}")
            stale.append((lock, "it names no pid and no postgres runs on the data dir"))
            continue
        reason = why_stale(identify(lock.pid), lock.pid, pgdata, data_uid)
        if reason is None:
            raise DevstackError(
                f"a postgres (pid {lock.pid}) still runs on {pgdata} and holds {lock.path}; "
                "stop it first (make stop)"
            )
        stale.append((lock, reason))
    return stale


async def clear_stale_locks(pgdata: Path, socket_dir: Path, port: int) -> None:
    """Before a start: remove every lock file whose owner is proven gone, once the children
    of that dead postmaster have exited too (they still hold its shared memory)."""
    stale = await asyncio.to_thread(stale_locks, pgdata, socket_dir, port)
    if not stale:
        return
    await _outlive_orphans(pgdata)
    for lock, reason in stale:
        with contextlib.suppress(FileNotFoundError):
            lock.path.unlink()
        log.warning("removed stale %s: %s", lock.path, reason)


async def _outlive_orphans(pgdata: Path, grace: float = 10.0) -> None:
    """Wait for children of a dead postmaster, which exit once they notice; kill the rest."""
    give_up, killed = time.monotonic() + grace, False
    while orphans := list(postgres_processes(pgdata)):
        if time.monotonic() >= give_up:
            if killed:
                pids = ", ".join(str(orphan.pid) for orphan in orphans)
                raise DevstackError(f"postgres processes {pids} on {pgdata} do not exit")
            for orphan in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(orphan.pid, signal.SIGKILL)
            log.warning("killed %d postgres processes left by a dead postmaster", len(orphans))
            give_up, killed = time.monotonic() + grace, True
        await asyncio.sleep(0.1)
