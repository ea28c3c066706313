"""The lockout policy: failures within a window lock the account for a while."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain.lockout import AccountLocked, LockoutPolicy, LoginFailures

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(
    max_failures=5, window=timedelta(minutes=15), lock_duration=timedelta(minutes=15)
)


def fail(times: int, *, every: timedelta = timedelta(seconds=10)) -> tuple[LoginFailures, datetime]:
    failures, now = LoginFailures(), NOW
    for _ in range(times):
        POLICY.ensure_unlocked(failures, now)
        failures = POLICY.after_failure(failures, now)
        now += every
    return failures, now


def test_four_failures_leave_the_account_open() -> None:
    failures, now = fail(4)
    POLICY.ensure_unlocked(failures, now)
    assert failures.count == 4


def test_the_fifth_failure_locks_the_account_for_the_lock_duration() -> None:
    failures, now = fail(5)
    assert failures.locked_until == NOW + timedelta(seconds=40) + timedelta(minutes=15)
    with pytest.raises(AccountLocked) as raised:
        POLICY.ensure_unlocked(failures, now)
    assert raised.value.reason == "ACCOUNT_LOCKED"
    assert raised.value.retry_after == timedelta(minutes=15) - timedelta(seconds=10)


def test_the_retry_delay_is_rounded_up_to_whole_seconds() -> None:
    failures = LoginFailures(locked_until=NOW + timedelta(seconds=2, milliseconds=1))
    with pytest.raises(AccountLocked) as raised:
        POLICY.ensure_unlocked(failures, NOW)
    assert raised.value.retry_after == timedelta(seconds=3)


def test_the_lock_lifts_once_its_duration_has_passed_and_counting_starts_afresh() -> None:
    failures, _ = fail(5)
    assert failures.locked_until is not None
    POLICY.ensure_unlocked(failures, failures.locked_until)
    after = POLICY.after_failure(failures, failures.locked_until)
    assert after.count == 1
    assert after.locked_until is None


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    failures, now = fail(12, every=timedelta(minutes=4))
    POLICY.ensure_unlocked(failures, now)
    assert failures.count < 5
