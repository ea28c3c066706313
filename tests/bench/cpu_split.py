"""Where the CPU went during a measured round: each mesh component (its whole process tree,
so PostgreSQL's backends count as PostgreSQL) and the load generator, in busy cores."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
LOAD_GENERATOR = "load"


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds per component at one moment."""

    at: float
    seconds: dict[str, float]


class CpuSplit:
    """Samples the CPU time of named process trees and of this process's finished children
    (the load generator runs as one and is waited for before the round ends)."""

    def __init__(self, roots: Mapping[str, int]) -> None:
        self._roots = dict(roots)

    def sample(self) -> CpuSample:
        children, own = _processes()
        seconds = {name: _tree_seconds(pid, children, own) for name, pid in self._roots.items()}
        finished = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds[LOAD_GENERATOR] = finished.ru_utime + finished.ru_stime
        return CpuSample(time.monotonic(), seconds)

    @staticmethod
    def busy_cores(before: CpuSample, after: CpuSample) -> dict[str, float]:
        wall = after.at - before.at
        # A process that exited in between loses its time; never report that as negative.
        return {
            name: max(0.0, after.seconds[name] - before.seconds.get(name, 0.0)) / wall
            for name in after.seconds
        }


def describe(busy: Mapping[str, float]) -> str:
    parts = [f"{name} {cores:.2f}" for name, cores in busy.items()]
    return f"{', '.join(parts)}; total {sum(busy.values()):.2f} of {os.cpu_count()} cores"


def _processes() -> tuple[dict[int, list[int]], dict[int, float]]:
    """Each process's children, and each process's own CPU seconds."""
    children: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name may hold spaces and parentheses; the fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        own[pid] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND  # utime + stime
    return children, own


def _tree_seconds(root: int, children: Mapping[int, list[int]], own: Mapping[int, float]) -> float:
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += own.get(pid, 0.0)
        pending.extend(children.get(pid, ()))
    return total
