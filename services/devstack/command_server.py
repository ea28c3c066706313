"""A supervised server that is one command (a service, the edge, a sidecar): spawned with its
settings, started once its health gate passes, stopped with SIGTERM and then SIGKILL."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.devstack.errors import DevstackError
from services.devstack.process import SupervisedProcess
from services.devstack.run_file import StopPlan

HealthGate = Callable[[SupervisedProcess], Awaitable[None]]


@dataclass
class CommandServer:
    """`argv` run in `cwd` with `env`; ready once `ready(process)` returns (health.py)."""

    process: SupervisedProcess
    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    ready: HealthGate
    grace: float  # between SIGTERM and SIGKILL; covers the server's own drain

    async def start(self) -> None:
        self.process.spawn(self.argv, cwd=self.cwd, env=self.env)
        try:
            await self.ready(self.process)
        except DevstackError:
            # Started but never healthy: it must not linger half-up until the next attempt.
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.process.stop(signal.SIGTERM, grace=self.grace)

    def stop_plan(self) -> StopPlan:
        return StopPlan(how="signal", grace=self.grace)
