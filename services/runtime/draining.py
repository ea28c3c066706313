"""Tells long-lived streams that the server is going away, so clients reconnect
elsewhere before the grace period ends instead of being cut off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TypeVar

from services.runtime.errors import Unavailable

T = TypeVar("T")


class Drain:
    """Set once when shutdown begins; stream handlers guard their loops with it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def begin(self) -> None:
        self._event.set()

    @property
    def started(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()

    @staticmethod
    def reconnect_error() -> Unavailable:
        return Unavailable(
            "server is shutting down; reconnect",
            reason="DRAINING",
            retry_after=timedelta(0),
        )

    async def guard(self, source: AsyncIterator[T]) -> AsyncIterator[T]:
        """Yield from `source` until it ends or draining begins; then end the stream
        with UNAVAILABLE (reason DRAINING), which tells the client to reconnect.

        The pending read of `source` is cancelled and awaited whenever the guard ends
        (drain, client cancel, error), so the source's own cleanup always runs."""
        drained = asyncio.ensure_future(self._event.wait())
        following: asyncio.Future[T] | None = None
        try:
            while True:
                following = asyncio.ensure_future(anext(source))
                await asyncio.wait({following, drained}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    raise self.reconnect_error()
                try:
                    item = following.result()
                except StopAsyncIteration:
                    return
                following = None
                yield item
        finally:
            drained.cancel()
            if following is not None and following.done():
                # A read that finished as the guard ended (the source ended or failed
                # just as the call was cancelled): retrieve its outcome so that asyncio
                # does not report it as never retrieved; the guard's own exit wins.
                if not following.cancelled():
                    following.exception()
            elif following is not None:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
