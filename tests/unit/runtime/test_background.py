"""Background work restarts after a failure instead of dying silently, and stops when asked."""

from __future__ import annotations

import asyncio

import pytest

from services.runtime.background import finish, keep_running


async def test_work_that_fails_is_logged_and_restarted_until_it_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("broker went away")

    await keep_running(flaky, name="relay", stopping=asyncio.Event())
    assert attempts == 3
    restarts = [r for r in caplog.records if r.name == "lastmile.background"]
    assert len(restarts) == 2
    assert restarts[0].exc_info is not None


async def test_a_failure_while_stopping_ends_the_work_without_raising() -> None:
    stopping = asyncio.Event()
    attempts = 0

    async def always_fails() -> None:
        nonlocal attempts
        attempts += 1
        stopping.set()
        raise ConnectionError("down")

    await keep_running(always_fails, name="consumer", stopping=stopping)
    assert attempts == 1


async def test_a_task_stuck_in_a_retry_loop_is_cancelled_after_the_grace() -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    task = asyncio.create_task(stuck())
    await finish(task, grace=0.05, name="relay")
    assert cancelled.is_set()
    assert task.cancelled()
