"""The restart policy and the crash-loop backoff of the local stack's supervisor."""

from __future__ import annotations

import signal

import pytest

from services.devstack.restart_policy import Backoff, CrashLoop, RestartPolicy

KILLED = -signal.SIGKILL


def test_the_backoff_doubles_from_one_second_and_stops_at_thirty() -> None:
    loop = CrashLoop(Backoff())
    delays = [loop.next_delay(ran_for=None) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_component_that_stayed_up_for_a_while_starts_its_backoff_over() -> None:
    loop = CrashLoop(Backoff(reset_after=60))
    for _ in range(4):
        loop.next_delay(ran_for=None)
    assert loop.next_delay(ran_for=61) == 1
    assert loop.next_delay(ran_for=0.5) == 2


def test_a_component_that_crashes_soon_after_each_start_keeps_backing_off() -> None:
    loop = CrashLoop(Backoff(reset_after=60))
    assert [loop.next_delay(ran_for=5) for _ in range(3)] == [1, 2, 4]


def test_a_huge_number_of_attempts_still_waits_the_cap() -> None:
    assert Backoff(cap=30).delay(10_000) == 30


@pytest.mark.parametrize(
    ("policy", "exit_code", "restarts"),
    [
        (RestartPolicy.ALWAYS, 0, True),
        (RestartPolicy.ALWAYS, KILLED, True),
        (RestartPolicy.ON_FAILURE, 0, False),
        (RestartPolicy.ON_FAILURE, 1, True),
        (RestartPolicy.ON_FAILURE, KILLED, True),
        (RestartPolicy.NEVER, KILLED, False),
        (RestartPolicy.NEVER, 1, False),
    ],
)
def test_the_policy_decides_which_exits_are_restarted(
    policy: RestartPolicy, exit_code: int, restarts: bool
) -> None:
    assert policy.restarts_after(exit_code) is restarts


def test_make_run_restarts_always_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LASTMILE_RESTART", raising=False)
    assert RestartPolicy.from_environment() is RestartPolicy.ALWAYS
    monkeypatch.setenv("LASTMILE_RESTART", "on-failure")
    assert RestartPolicy.from_environment() is RestartPolicy.ON_FAILURE
