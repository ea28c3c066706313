"""A child server process that we spawned ourselves, with its output appended to a log file
(never a pipe, which fills up and stalls a chatty server) and a bounded, escalating stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from services.devstack.errors import DevstackError
from services.devstack.process_identity import start_time_of
from services.devstack.system_user import RunAs


def _identity(run_as: RunAs | None) -> dict[str, Any]:
    # subprocess drops privileges in the child between fork and exec in C (no preexec_fn,
    # which is unsafe with threads), including the supplementary groups root carries.
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def _read_tail(log_path: Path, offset: int, lines: int) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def describe_exit(code: int) -> str:
    """An exit status as Popen gives it (negative: the signal that killed it), for people."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def run_logged(
    argv: Sequence[str],
    log_path: Path,
    *,
    what: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    run_as: RunAs | None = None,
    timeout: float,
) -> None:
    """Run a one-shot tool (initdb, pg_ctl) to completion; its output goes to `log_path`.
    Blocking: call it through `asyncio.to_thread`."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                timeout=timeout,
                check=False,
                **_identity(run_as),
            )
        except subprocess.TimeoutExpired:
            raise DevstackError(
                f"{what} did not finish within {timeout:.0f}s; {log_path}:\n"
                f"{_read_tail(log_path, offset, 30)}"
            ) from None
    if done.returncode != 0:
        raise DevstackError(
            f"{what} exited with code {done.returncode}; {log_path}:\n"
            f"{_read_tail(log_path, offset, 30)}"
        )


class SupervisedProcess:
    """One long-running server process started by us; it never signals any other process."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.start_time: int | None = None  # with the pid, names this process (process_identity)

    def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        run_as: RunAs | None = None,
    ) -> None:
        if self.running:
            raise DevstackError(f"{argv[0]} is already running as pid {self.pid}")
        # Only this run's output belongs in an error message; earlier runs stay in the file.
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                # Its own session: a Ctrl-C in the terminal reaches only the supervisor, which
                # then stops the servers in order instead of having them all die at once.
                start_new_session=True,
                **_identity(run_as),
            )
        self.start_time = start_time_of(self._process.pid)

    @property
    def pid(self) -> int | None:
        """The pid while the process runs, else None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def last_pid(self) -> int | None:
        """The pid of the latest spawn, also after it exited (for reports)."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status once it has exited (reading it reaps the process), else None."""
        return None if self._process is None else self._process.poll()

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines this run wrote to the log."""
        return _read_tail(self.log_path, self._log_offset, lines)

    async def wait_exit(self, grace: float) -> bool:
        """Whether the process has exited (and been reaped) within `grace` seconds."""
        give_up = time.monotonic() + grace
        while self.running:
            if time.monotonic() >= give_up:
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self, first: signal.Signals, grace: float) -> None:
        """Send `first`, wait up to `grace` seconds, then SIGKILL the process group we created."""
        process = self._process
        if process is None or not self.running:
            return
        process.send_signal(first)
        if await self.wait_exit(grace):
            return
        # The group id is the pid of our child (start_new_session), so this reaches only
        # that server and the workers it forked, never anything else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await self.wait_exit(10.0)
