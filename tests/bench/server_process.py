"""Starts a server as a child process (optionally CPU-pinned) and always stops it by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.bench.machine import pinned

STOP_GRACE_SECONDS = 15.0


class ServerFailed(RuntimeError):
    """The server exited early or never became ready; the message quotes its log."""


@dataclass(frozen=True)
class RunningServer:
    """A started child process, the port it serves and the file its stderr goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path


@contextmanager
def running_server(
    command: Sequence[str],
    *,
    port: int,
    log: Path,
    is_ready: Callable[[int], bool],
    cpus: str = "",
    ready_within_seconds: float = 30.0,
) -> Iterator[RunningServer]:
    """Start `command`, wait until `is_ready(port)`, yield, then SIGTERM → wait → SIGKILL."""
    with log.open("wb") as sink:
        process = subprocess.Popen(pinned(command, cpus), stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(process, port, log, is_ready, ready_within_seconds)
        yield RunningServer(process, port, log)
    finally:
        stop(process)


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    port: int,
    log: Path,
    is_ready: Callable[[int], bool],
    within_seconds: float,
) -> None:
    give_up = time.monotonic() + within_seconds
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode}:\n{tail(log)}")
        if is_ready(port):
            return
        time.sleep(0.1)
    raise ServerFailed(f"server not ready on port {port} after {within_seconds:g} s:\n{tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Graceful first (the servers drain on SIGTERM); SIGKILL only if that hangs."""
    if process.poll() is not None:
        return
    # taskset execs the command, so this pid is the server itself.
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_GRACE_SECONDS)


def tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
