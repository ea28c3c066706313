"""Holding the mesh's PostgreSQL down: kill -9 the postmaster and its backends, and again
whenever the supervisor brings a new one up, until the outage has lasted long enough.

The postmaster is found through /proc by the mesh's own data directory on its command line
(`postgres -D <pgdata>`), and the backends as its children, so a restarted postmaster is
killed as soon as it exists, before it can answer a query, whatever run.json says yet."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import RunningMesh

KILL_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Cluster:
    """The processes of one PostgreSQL cluster right now."""

    postmasters: frozenset[int]
    backends: frozenset[int]


def cluster(pgdata: Path) -> Cluster:
    postmasters, parents = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if str(pgdata).encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                postmasters.add(int(entry.name))
            status = (entry / "status").read_text()
            parents[int(entry.name)] = int(status.split("PPid:")[1].split()[0])
    backends = {pid for pid, parent in parents.items() if parent in postmasters}
    return Cluster(frozenset(postmasters), frozenset(backends))


def pgdata_of(mesh: RunningMesh) -> Path:
    return mesh.state_dir / "postgres" / "pgdata"


async def hold_postgres_down(mesh: RunningMesh, seconds: float) -> int:
    """Kill the cluster now and keep it dead for `seconds`; returns how many postmasters
    (the first and each one the supervisor started meanwhile) were killed."""
    pgdata = pgdata_of(mesh)
    assert cluster(pgdata).postmasters, f"no PostgreSQL runs on {pgdata}"
    killed: set[int] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = await asyncio.to_thread(cluster, pgdata)
        for pid in found.postmasters | found.backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed |= found.postmasters
        await asyncio.sleep(KILL_POLL_SECONDS)
    return len(killed)
