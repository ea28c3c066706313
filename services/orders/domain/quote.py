"""The price a delivery is charged, as pricing quoted it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.shared_kernel.money import Money


@dataclass(frozen=True, slots=True)
class Quote:
    """A price pricing vouches for, under its signed `quote_id`, until `expires_at`."""

    quote_id: str
    price: Money
    expires_at: datetime
