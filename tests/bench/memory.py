"""How much memory each mesh component holds, read from /proc: the resident set of its
process, or, for PostgreSQL (a postmaster and one backend per connection, all mapping the
same shared buffers), the proportional set of its whole tree, so that shared pages count
once instead of once per backend."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

_KIB = 1024


def resident_mib(pid: int) -> float | None:
    """VmRSS of one process in MiB; None once it has exited."""
    return _status_kib(pid, "VmRSS:")


def tree_proportional_mib(root: int) -> float | None:
    """The summed Pss of `root` and all its descendants, in MiB; None once root is gone."""
    children = _children()
    total, pending, seen_root = 0.0, [root], False
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(rollup.split("\nPss:")[1].split()[0]) / _KIB
            seen_root |= pid == root
        pending.extend(children.get(pid, ()))
    return total if seen_root else None


def component_mib(pids: Mapping[str, int], trees: frozenset[str]) -> dict[str, float | None]:
    """Memory per component: the tree's PSS for names in `trees`, else the process's RSS."""
    return {
        name: tree_proportional_mib(pid) if name in trees else resident_mib(pid)
        for name, pid in pids.items()
    }


def _status_kib(pid: int, field: str) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(status.split(field)[1].split()[0]) / _KIB
    except (OSError, IndexError, ValueError):
        return None


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    return children


# glibc gives each thread that mallocs its own arena: a heap reserved at a 64 MiB-aligned
# address. In a grpc.aio service those threads are grpc core's (poller, event engine), so
# their arenas hold core's per-call and per-stream state; Python's objects live in
# pymalloc's arenas and the main thread's heap (mallocs of larger blocks).
_THREAD_ARENA_ALIGN = 64 << 20
RESIDENT_PARTS = ("grpc core threads' malloc arenas", "main thread's heap", "other anonymous")


def resident_parts_kib(pid: int) -> dict[str, int]:
    """Resident KiB of one process's private memory by where it was mapped: glibc's thread
    arenas (grpc core), the main thread's [heap], and other anonymous mappings (pymalloc's
    arenas, large mmap-ed blocks, thread stacks); files are left out."""
    parts = dict.fromkeys(RESIDENT_PARTS, 0)
    part: str | None = None
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                start = int(fields[0].split("-")[0], 16)
                name = fields[5] if len(fields) > 5 else ""
                if name == "[heap]":
                    part = RESIDENT_PARTS[1]
                elif name:
                    part = None  # files, the stack, vdso
                elif start % _THREAD_ARENA_ALIGN == 0 and fields[1] == "rw-p":
                    part = RESIDENT_PARTS[0]
                else:
                    part = RESIDENT_PARTS[2]
            elif fields[0] == "Rss:" and part is not None:
                parts[part] += int(fields[1])
    return parts
