"""Coalescing of positions: whatever the apps send, only each courier's newest fix
since the last flush is passed on."""

from __future__ import annotations

from services.fleet.domain.values import Fix


class LatestPositions:
    """The newest fix per courier since the last `take`, up to `flush_size` couriers."""

    __slots__ = ("_fixes", "_flush_size")

    def __init__(self, flush_size: int) -> None:
        if flush_size < 1:
            raise ValueError("flush_size must be at least 1")
        self._flush_size = flush_size
        self._fixes: dict[str, Fix] = {}

    def __len__(self) -> int:
        return len(self._fixes)

    def add(self, courier_id: str, fix: Fix) -> bool:
        """Keep `fix` if it is the courier's newest; True once a flush is due by size."""
        held = self._fixes.get(courier_id)
        if held is None or fix.recorded_ns > held.recorded_ns:
            self._fixes[courier_id] = fix
        return len(self._fixes) >= self._flush_size

    def take(self) -> dict[str, Fix]:
        fixes, self._fixes = self._fixes, {}
        return fixes
