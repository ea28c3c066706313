"""When the local stack restarts a component that exited, and after how long: a kubelet's
restartPolicy and its CrashLoopBackOff (1 s, 2 s, 4 s ... capped at 30 s, forgotten once the
component has stayed up for a while). Pure: the supervisor asks, this module decides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

RESTART_VARIABLE = "LASTMILE_RESTART"


class RestartPolicy(StrEnum):
    """Which exits bring a component back: every one, only failures, or none."""

    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"

    def restarts_after(self, exit_code: int) -> bool:
        """Whether a component that exited with `exit_code` (negative: killed by that signal)
        is started again."""
        if self is RestartPolicy.ALWAYS:
            return True
        return self is RestartPolicy.ON_FAILURE and exit_code != 0

    @classmethod
    def from_environment(cls) -> RestartPolicy:
        """`make run`'s default: $LASTMILE_RESTART, else always."""
        return cls(os.environ.get(RESTART_VARIABLE, cls.ALWAYS.value))


@dataclass(frozen=True)
class Backoff:
    """The wait before restart number n+1 of a crash loop: `initial * factor**n`, at most
    `cap`. A component that ran for `reset_after` seconds before exiting starts a new loop."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, attempt: int) -> float:
        """The wait before the restart that follows `attempt` earlier ones in this loop."""
        return min(self.cap, self.initial * self.factor ** min(attempt, 64))


@dataclass
class CrashLoop:
    """One component's crash loop: how many restarts in a row have not stayed up."""

    backoff: Backoff
    attempt: int = 0

    def next_delay(self, ran_for: float | None) -> float:
        """The wait before the next start of a component that exited after running for
        `ran_for` seconds (None: it never came up), and count that start."""
        if ran_for is not None and ran_for >= self.backoff.reset_after:
            self.attempt = 0
        delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        return delay
