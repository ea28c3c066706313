"""What the simulation counts: event counters, latency samples with bounded memory, and
their percentiles.

Percentiles use the nearest-rank method: the p-th percentile of n sorted samples is the
sample at rank ceil(p/100 * n) (1-based). It always returns an observed value, never an
interpolation, which is what a latency report should show.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

# Enough samples for a stable p99, few enough (a few hundred kilobytes) for any run length.
DEFAULT_SAMPLE_CAP = 20_000


def percentile(samples: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of `samples`; None when there are none."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    if not samples:
        return None
    ordered = sorted(samples)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """How many latencies were observed, and their p50 and p99 in seconds."""

    count: int
    p50: float | None
    p99: float | None


class LatencySamples:
    """Every latency up to `cap`, then a uniform random sample of them all (reservoir
    sampling, Algorithm R), so percentiles stay unbiased while memory stays bounded."""

    def __init__(self, cap: int = DEFAULT_SAMPLE_CAP, rng: random.Random | None = None) -> None:
        if cap < 1:
            raise ValueError(f"the cap must be at least 1, got {cap}")
        self.cap = cap
        self.count = 0
        self._samples: list[float] = []
        self._rng = rng or random.Random()

    def add(self, seconds: float) -> None:
        self.count += 1
        if len(self._samples) < self.cap:
            self._samples.append(seconds)
            return
        slot = self._rng.randrange(self.count)
        if slot < self.cap:
            self._samples[slot] = seconds

    @property
    def kept(self) -> int:
        return len(self._samples)

    def percentile(self, percent: float) -> float | None:
        return percentile(self._samples, percent)

    def summary(self) -> LatencySummary:
        return LatencySummary(self.count, self.percentile(50), self.percentile(99))


@dataclass
class Counters:
    """Running totals of what customers and couriers did and saw."""

    created: int = 0
    # Keyed by HTTP status ("503") or "network" when no response came back.
    failed_creates: Counter[str] = field(default_factory=Counter)
    # Attempts repeated after a retryable answer (429, 503 with RetryInfo, a network error),
    # with the same idempotency key; and confirmations re-sent after UNAVAILABLE.
    create_retries: int = 0
    confirmation_retries: int = 0
    offered: int = 0
    accepted: int = 0
    declined: int = 0
    expired: int = 0
    not_assigned: int = 0
    withdrawn: int = 0
    assigned: int = 0
    picked_up: int = 0
    delivered: int = 0
    cancelled: int = 0
    message_errors: int = 0
    broken_streams: int = 0
    reconnects: int = 0

    @property
    def errors(self) -> int:
        return sum(self.failed_creates.values()) + self.message_errors + self.broken_streams
