"""Money in integer minor units, so that no amount is ever rounded by floating point."""

from __future__ import annotations

from dataclasses import dataclass


class CurrencyMismatch(ValueError):
    """Amounts in different currencies were combined."""


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of minor units (cents) of one ISO 4217 currency."""

    amount_minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.amount_minor - other.amount_minor, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)
