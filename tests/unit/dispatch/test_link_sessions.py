"""A Link session's wait for its next message leaves nothing behind when the Link's handler
is cancelled (fleet went away): no waiter task that asyncio would report as destroyed while
pending."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime

from services.dispatch.service_layer.link_sessions import LinkSession


async def test_a_cancelled_wait_for_the_next_message_leaves_no_task_pending() -> None:
    session = LinkSession("fleet-a", capacity=8, connected_at=datetime(2026, 1, 1, tzinfo=UTC))
    before = asyncio.all_tasks()
    waiting = asyncio.create_task(session.next_message())
    await asyncio.sleep(0)  # it now waits for a message or the end

    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)  # let the waiters it cancelled finish
    gc.collect()

    assert asyncio.all_tasks() - before == set()
