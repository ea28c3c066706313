"""Group commit of the queue: changes are coalesced per delivery and written in order,
in one transaction per batch, through the leader's lease.

Matching decides in memory and marks the deliveries it changed; the journal writes
their latest state (or removes them) and only then runs the follow-ups that must not
happen before the state is durable, such as sending an offer. One writer keeps the
order of writes; batching keeps up with hundreds of offers a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from services.dispatch.domain.queue import DispatchQueue
from services.dispatch.service_layer.ports import LeaderLease, QueueWrite
from services.dispatch.service_layer.queue_rows import row_of

log = logging.getLogger("lastmile.dispatch.journal")


class QueueJournal:
    """Persists what matching changed; `persist(..., then=...)` runs `then` after commit."""

    def __init__(self, queue: DispatchQueue, lease: LeaderLease) -> None:
        self._queue = queue
        self._lease = lease
        # Both are bounded by the queue: one entry per delivery changed since the last
        # commit, one follow-up per offer or assignment made since then.
        self._dirty: dict[str, None] = {}
        self._follow_ups: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dispatch-queue-journal")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def persist(self, delivery_id: str, then: Callable[[], None] | None = None) -> None:
        self._dirty[delivery_id] = None
        if then is not None:
            self._follow_ups.append(then)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, {}
            follow_ups, self._follow_ups = self._follow_ups, []
            updated, removed = [], []
            for delivery_id in dirty:
                delivery = self._queue.get(delivery_id)
                if delivery is None:
                    removed.append(delivery_id)
                else:
                    updated.append(row_of(delivery))
            try:
                await self._lease.write(QueueWrite(updated, removed))
            except Exception:
                # The lease marks itself lost: this replica steps down and its successor
                # loads the last committed queue. Nothing uncommitted is acted upon.
                log.exception("queue write failed; stepping down")
                return
            for follow_up in follow_ups:
                try:
                    follow_up()
                except Exception:
                    log.exception("follow-up after a queue write failed")
