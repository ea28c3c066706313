"""Quotes: a priced offer for one set of terms, valid until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.pricing.domain.tariff import PriceLine
from services.pricing.domain.terms import DeliveryTerms
from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.shared_kernel.money import Money


@dataclass(frozen=True, slots=True)
class Quote:
    """A price for `terms`, honoured until `expires_at`. `quote_id` is its signed form."""

    quote_id: str
    terms: DeliveryTerms
    price: Money
    breakdown: tuple[PriceLine, ...]
    distance_meters: int
    created_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class QuoteInvalid(InvalidArgument):
    """The quote was not issued by pricing, or not for these terms."""

    def __init__(self, why: str) -> None:
        super().__init__([FieldViolation("quote_id", why)], reason="QUOTE_INVALID")


class QuoteExpired(FailedPrecondition):
    """The quote's validity has passed; ask for a new one."""

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(
            f"quote expired at {expired_at.isoformat()}; request a new quote",
            reason="QUOTE_EXPIRED",
            metadata={"expire_time": expired_at.isoformat()},
        )
