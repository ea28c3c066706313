"""Waiting for a condition with a deadline; tests never sleep for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(check: Callable[[], T | None], what: str, limit: float = 20) -> T:
    """Poll `check` until it returns something truthy; the limit only bounds a broken run."""
    give_up = time.monotonic() + limit
    while not (found := check()):
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
    return found


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 20) -> None:
    give_up = time.monotonic() + limit
    while not await check():
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)
