"""The price a delivery is charged, as pricing quoted it, and why a presented quote is
refused: a client that showed a quoted price must learn that it no longer holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from services.shared_kernel.money import Money

# Where a presented quote sits in CreateDeliveryRequest (and in each import item).
QUOTE_ID_FIELD = "delivery.quote_id"


@dataclass(frozen=True, slots=True)
class Quote:
    """A price pricing vouches for, under its signed `quote_id`, until `expires_at`."""

    quote_id: str
    price: Money
    expires_at: datetime


class QuoteInvalid(InvalidArgument):
    """The presented quote was not issued by pricing, was altered, or was made for other
    terms than the delivery's."""

    def __init__(self, why: str) -> None:
        super().__init__(
            [FieldViolation(QUOTE_ID_FIELD, f"{why}; ask for a new quote or omit quote_id")],
            reason="QUOTE_INVALID",
        )


class QuoteExpired(FailedPrecondition):
    """The presented quote's validity has passed (FAILED_PRECONDITION, as orders.proto
    promises): the same quote id will never be honoured again."""

    def __init__(self, expire_time: str) -> None:
        super().__init__(
            f"{QUOTE_ID_FIELD}: the quote expired at {expire_time}; "
            "ask for a new quote or omit quote_id",
            reason="QUOTE_EXPIRED",
            metadata={"expire_time": expire_time},
        )
