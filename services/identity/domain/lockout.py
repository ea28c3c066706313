"""Temporary lockout after repeated failed log-ins on one account (OWASP API2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.runtime.errors import ResourceExhausted


class AccountLocked(ResourceExhausted):
    """Too many recent failures; the caller may try again after `retry_after`."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(
            "too many failed log-ins on this account; try again later",
            retry_after=retry_after,
            reason="ACCOUNT_LOCKED",
        )


@dataclass(frozen=True, slots=True)
class LoginFailures:
    """Failed attempts in the current window, and the end of a lock if one is set."""

    count: int = 0
    window_started_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`max_failures` within `window` lock the account for `lock_duration`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_duration: timedelta = timedelta(minutes=15)

    def ensure_unlocked(self, failures: LoginFailures, now: datetime) -> None:
        if failures.locked_until is not None and now < failures.locked_until:
            # Whole seconds, rounded up, so that a client never retries a moment too early.
            remaining = failures.locked_until - now
            raise AccountLocked(timedelta(seconds=-(-remaining // timedelta(seconds=1))))

    def after_failure(self, failures: LoginFailures, now: datetime) -> LoginFailures:
        start = failures.window_started_at
        if start is None or now - start >= self.window:
            count, start = 1, now
        else:
            count = failures.count + 1
        if count >= self.max_failures:
            # A fresh window after the lock: the next `max_failures` attempts count anew.
            return LoginFailures(locked_until=now + self.lock_duration)
        return LoginFailures(count=count, window_started_at=start)
