"""Long-running background work (outbox relays, event consumers) that must never die
silently: a failure is logged with its stack and the work restarts with backoff (a
dependency that cannot be reached is an outage, logged in one line without a stack)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from services.runtime.dependencies import unreachable_dependency

log = logging.getLogger("lastmile.background")


async def keep_running(
    work: Callable[[], Awaitable[None]], *, name: str, stopping: asyncio.Event
) -> None:
    """Run `work` until it returns or `stopping` is set, restarting it after failures."""

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=seconds)

    def report(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        dependency = unreachable_dependency(failure) if failure is not None else None
        if dependency is not None:
            # An outage, not a fault: the dependency monitor warns of it once; a stack per
            # restart would only bury that line.
            log.info(
                "%s waits for the %s: %r", name, dependency, failure,
                extra={"task": name, "attempt": state.attempt_number},
            )  # fmt: skip
            return
        log.error(
            "%s failed; restarting", name,
            exc_info=failure, extra={"task": name, "attempt": state.attempt_number},
        )  # fmt: skip

    try:
        async for attempt in AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=0.2, max=10),
            retry=retry_if_exception(lambda e: isinstance(e, Exception) and not stopping.is_set()),
            sleep=pause,
            before_sleep=report,
            reraise=True,
        ):
            with attempt:
                if stopping.is_set():
                    return
                await work()
    except Exception:
        if not stopping.is_set():
            raise
        # Failing while the service shuts down is expected (its broker or database may
        # already be gone); the shutdown must go on.
        log.warning("%s failed while stopping", name, exc_info=True)


async def finish(task: asyncio.Task[None] | None, *, grace: float, name: str | None = None) -> None:
    """Wait up to `grace` seconds for a task told to stop; cancel it after that, so that
    one blocked in a retry loop (a broker that is down) can never hang a shutdown. `name`
    (for the log) defaults to the task's own."""
    if task is None or task.done():
        return
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("%s did not stop within %.0fs; cancelling it", name or task.get_name(), grace)
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
