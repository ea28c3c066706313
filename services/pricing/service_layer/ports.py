"""Interfaces that pricing's use cases need from the outside world."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from services.pricing.domain.tariff import PriceLine
from services.shared_kernel.money import Money


@dataclass(frozen=True, slots=True)
class QuoteClaims:
    """What a quote's signature vouches for: the priced terms' fingerprint and the price."""

    terms_fingerprint: str
    price: Money
    breakdown: tuple[PriceLine, ...]
    distance_meters: int
    created_at: datetime
    expires_at: datetime


class SignatureInvalid(Exception):
    """The token was not signed with our key, or is not a quote token at all."""


class QuoteSigner(abc.ABC):
    """Turns claims into an opaque, tamper-evident quote id and back."""

    @abc.abstractmethod
    def sign(self, claims: QuoteClaims) -> str: ...

    @abc.abstractmethod
    def open(self, quote_id: str) -> QuoteClaims:
        """The claims inside `quote_id`; SignatureInvalid if it was forged or altered.
        Expiry is not checked here: the use case decides with its own clock."""
