"""orders' verdict on an AssignCourier call, as the matching core receives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Assigned:
    """orders made the delivery the courier's (now or by an earlier identical call)."""

    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class NotAssigned:
    """orders refused for good; `current_state` is the delivery's status name."""

    current_state: str


Verdict = Assigned | NotAssigned
