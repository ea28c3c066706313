"""A PostgreSQL outage on the mesh: the supervisor is told to hold PostgreSQL down (its
hold file), the postmaster and its backends are killed with SIGKILL, and once the outage
ends the hold is lifted and the supervisor starts PostgreSQL again by itself.

The processes are found through /proc: the postmaster by the mesh's own data directory
on its command line (`postgres -D <pgdata>`), the backends as its children. Killing the
backends too makes the outage start at once for every connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from services.devstack.supervisor import HOLD_DIR
from tests.e2e.conftest import RunningMesh


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


class PostgresOutage:
    """`begin` holds PostgreSQL down and kills it; `end` lets the supervisor restart it."""

    def __init__(self, mesh: RunningMesh) -> None:
        self._pgdata = mesh.state_dir / "postgres" / "pgdata"
        self._hold = mesh.state_dir / HOLD_DIR / "postgres"

    async def begin(self) -> int:
        """Returns how many processes (postmaster and backends) were killed."""
        self._hold.parent.mkdir(exist_ok=True)
        self._hold.touch()
        found = await asyncio.to_thread(cluster, self._pgdata)
        assert len(found.postmasters) == 1, f"PostgreSQL on {self._pgdata}: {found}"
        for pid in found.postmasters | found.backends:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(found.postmasters | found.backends)

    async def is_down(self) -> bool:
        return not (await asyncio.to_thread(cluster, self._pgdata)).postmasters

    def end(self) -> None:
        self._hold.unlink(missing_ok=True)
