"""How offers fare: counted by outcome since the matcher became the leader."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class OfferOutcome(StrEnum):
    """What happened to an offer (the metric label `outcome` uses these values)."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    UNDELIVERABLE = "undeliverable"
    CANCELLED = "cancelled"
    ASSIGNED = "assigned"
    ASSIGNMENT_FAILED = "assignment_failed"


@dataclass
class OfferStatistics:
    """Counts per outcome from `started_at`, when this term of leadership began."""

    started_at: datetime
    counts: Counter[OfferOutcome] = field(default_factory=Counter)

    def record(self, outcome: OfferOutcome) -> None:
        self.counts[outcome] += 1
