"""The live status line: once a second on stderr, what the simulated city is doing."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from services.simulator.courier_state import CourierState
from services.simulator.observations import Observations


@dataclass(frozen=True, slots=True)
class FleetGauge:
    """How many simulated couriers are connected, online, and carrying a delivery."""

    connected: int
    online: int
    busy: int

    @classmethod
    def of(cls, couriers: Iterable[CourierState]) -> FleetGauge:
        connected = online = busy = 0
        for courier in couriers:
            connected += courier.connected
            online += courier.online
            busy += courier.busy
        return cls(connected, online, busy)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def status_line(elapsed: float, gauge: FleetGauge, observations: Observations) -> str:
    counters = observations.counters
    p50 = observations.ledger.to_assignment.percentile(50)
    return (
        f"[{elapsed:6.0f}s] couriers {gauge.connected} connected {gauge.online} online"
        f" {gauge.busy} busy | created {counters.created} offered {counters.offered}"
        f" assigned {counters.assigned} picked up {counters.picked_up}"
        f" delivered {counters.delivered} cancelled {counters.cancelled}"
        f" | errors {counters.errors} | create→assigned p50 {seconds(p50)}"
    )


class ProgressLine:
    """Writes the status line every `interval` seconds until stopped."""

    def __init__(
        self,
        line: Callable[[], str],
        stream: TextIO = sys.stderr,
        interval: float = 1.0,
    ) -> None:
        self._line, self._stream, self._interval = line, stream, interval

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self._interval)
            print(self._line(), file=self._stream, flush=True)
