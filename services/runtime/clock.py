"""The wall clock every service's bootstrap wires in by default; tests pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def system_clock() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)
