"""The machine: described in one line so that figures are never read without it, and
its CPUs, to which the server and the load generator are pinned apart."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import grpc


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def h2load_version() -> str:
    result = subprocess.run(["h2load", "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def describe_machine() -> str:
    # sched_getaffinity is what `nproc` reports: the CPUs this process may run on.
    cpus = len(os.sched_getaffinity(0))
    return (
        f"nproc {cpus}, CPU {cpu_model()}, Python {platform.python_version()}, "
        f"grpcio {grpc.__version__}, {h2load_version()}"
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: a busy neighbour shows here before a run."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def pinned(command: Sequence[str], cpus: str) -> list[str]:
    """`command` under `taskset -c cpus` when pinning is asked for and taskset exists."""
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *command]
    return list(command)


class MachineCpu:
    """The whole machine's busy cores between two samples (/proc/stat), whoever used them:
    on a shared box, what the benchmark's own processes got is only part of the story."""

    def __init__(self) -> None:
        self._busy, self._total = _cpu_jiffies()

    def busy_cores(self) -> float:
        """Busy cores since the last call (or construction), and start a new interval."""
        busy, total = _cpu_jiffies()
        busy_delta, total_delta = busy - self._busy, total - self._total
        self._busy, self._total = busy, total
        cpus = os.cpu_count() or 1
        return cpus * busy_delta / total_delta if total_delta > 0 else 0.0


def _cpu_jiffies() -> tuple[int, int]:
    # cpu  user nice system idle iowait irq softirq steal guest guest_nice
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total
