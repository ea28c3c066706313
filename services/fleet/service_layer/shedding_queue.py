"""A bounded FIFO for one consumer that sheds load instead of blocking its producers.

Producers never wait: `put` answers at once. When the queue is full, droppable items
(acks of pings, position batches) are shed first, queued ones included, to make room
for the rest; only when nothing droppable is left does `put` refuse, and the caller
decides what a refusal means (an offer becomes undeliverable, a session is closed).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SheddingQueue(Generic[T]):
    """`capacity` items at most, plus one final item that ends the stream.

    Cheap while empty (there is one per courier session): the deque exists only while
    something is queued. The consumer either awaits `get`, or is called back through
    `on_ready` whenever an item arrives and takes items with `get_nowait`.
    """

    __slots__ = ("_capacity", "_final", "_items", "_waiter", "full_since", "on_ready")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._items: deque[tuple[T, bool]] | None = None  # created on demand
        self._final: T | None = None
        self._waiter: asyncio.Future[None] | None = None
        # time.monotonic() since which the queue has been full; None while it has room.
        self.full_since: float | None = None
        # Called (synchronously) after every item put, and after `finish`.
        self.on_ready: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    @property
    def finished(self) -> bool:
        return self._final is not None

    def has_room(self) -> bool:
        items = self._items
        return self._final is None and (
            items is None or len(items) < self._capacity or any(d for _, d in items)
        )

    def put(self, item: T, *, droppable: bool = False) -> bool:
        """Queue `item`; False if it was refused (or, when droppable, shed at once)."""
        if self._final is not None:
            return False
        items = self._items
        if items is None:
            items = self._items = deque()
        if len(items) >= self._capacity and (droppable or not self._shed_one(items)):
            return False
        items.append((item, droppable))
        if len(items) >= self._capacity and self.full_since is None:
            self.full_since = time.monotonic()
        self._wake()
        return True

    def finish(self, final: T, *, discard_pending: bool = False) -> None:
        """Queue `final` after everything (or instead of it); nothing is accepted after."""
        if self._final is not None:
            return
        if discard_pending:
            self._items = None
        self._final = final
        self._wake()

    def ready(self) -> bool:
        """True if `get_nowait` has an item (or the final one) to give."""
        return bool(self._items) or self._final is not None

    def get_nowait(self) -> T:
        """The next item, then the final one; only when `ready`."""
        items = self._items
        if not items:
            if self._final is None:
                raise LookupError("the queue is empty")
            return self._final
        item, _ = items.popleft()
        if not items:
            self._items = None
        if len(items) < self._capacity:
            self.full_since = None
        return item

    async def get(self) -> T:
        """The next item, then the final one; waits while there is none."""
        while not self._items and self._final is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()

    def drain(self) -> list[T]:
        """Everything queued, removed (for a consumer that is about to reconnect)."""
        items = [item for item, _ in self._items or ()]
        self._items = None
        self.full_since = None
        return items

    @staticmethod
    def _shed_one(items: deque[tuple[T, bool]]) -> bool:
        for index, (_, droppable) in enumerate(items):
            if droppable:
                del items[index]
                return True
        return False

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self.on_ready is not None:
            self.on_ready()
