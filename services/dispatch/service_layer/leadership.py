"""The campaign for leadership: poll for the lock, lead while it is held, step down the
moment it is lost, and campaign again."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.dispatch.service_layer.matcher import Matcher
from services.dispatch.service_layer.ports import LeaderLock
from services.runtime.background import finish, keep_running

log = logging.getLogger("lastmile.dispatch.leadership")


class Campaign:
    """One active matcher per database: the replica that holds the lock."""

    def __init__(self, lock: LeaderLock, matcher: Matcher, *, poll_seconds: float) -> None:
        self._lock = lock
        self._matcher = matcher
        self._poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            keep_running(self._run, name="leader-campaign", stopping=self._stopping),
            name="leader-campaign",
        )

    async def stop(self) -> None:
        """Step down (if leading) and release the lock, so a standby takes over at once."""
        self._stopping.set()
        await finish(self._task, grace=10.0, name="leader-campaign")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            lease = await self._lock.try_acquire()
            if lease is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_seconds)
                continue
            try:
                await self._matcher.elected(lease)
                lost = asyncio.ensure_future(lease.lost())
                stopping = asyncio.ensure_future(self._stopping.wait())
                await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
                lost.cancel()
                stopping.cancel()
                if not self._stopping.is_set():
                    log.warning("leadership lost (its database connection failed)")
            finally:
                await self._matcher.deposed()
                await lease.release()
