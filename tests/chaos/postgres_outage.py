"""Holding the mesh's PostgreSQL down: kill -9 the postmaster and its backends, and again
whenever the supervisor brings a new one up (a crash loop, as its backoff sees it), until
the outage has lasted long enough.

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


class PostgresOutage:
    """`begin` kills the cluster; `hold` kills every postmaster the supervisor starts again
    until the outage has lasted long enough."""

    def __init__(self, mesh: RunningMesh) -> None:
        self._pgdata = pgdata_of(mesh)
        self.postmasters_killed: set[int] = set()

    async def begin(self) -> None:
        assert await self._kill(), f"no PostgreSQL runs on {self._pgdata}"

    async def hold(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self._kill()
            await asyncio.sleep(KILL_POLL_SECONDS)

    async def _kill(self) -> bool:
        found = await asyncio.to_thread(cluster, self._pgdata)
        for pid in found.postmasters | found.backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.postmasters_killed |= found.postmasters
        return bool(found.postmasters)
