"""When a simulated courier reconnects after a broken stream: exponential backoff with
jitter, so that couriers cut off together do not all come back at the same instant."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `maximum`; each is drawn from the upper
    half of its range ("equal jitter"), so it never collapses to zero."""

    def __init__(
        self, initial: float = 0.5, maximum: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self._maximum, self._initial * 2**self._attempt)
        self._attempt += 1
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def reset(self) -> None:
        self._attempt = 0
