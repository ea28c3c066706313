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


@dataclass(frozen=True, slots=True)
class PublicQuoteKey:
    """The public half of a quote signing key (an Ed25519 JWK: `x` is the key itself)."""

    kid: str
    algorithm: str
    x: str
    # Signs new quotes; the other published keys only verify quotes signed before a rotation.
    active: bool


class SignatureInvalid(Exception):
    """The token was not signed with our key, or is not a quote token at all."""


class QuoteSigner(abc.ABC):
    """Turns claims into an opaque, tamper-evident quote id and back, and publishes the
    public keys that let others verify its quote ids."""

    @abc.abstractmethod
    def sign(self, claims: QuoteClaims) -> str: ...

    @abc.abstractmethod
    def open(self, quote_id: str) -> QuoteClaims:
        """The claims inside `quote_id`; SignatureInvalid if it was forged or altered.
        Expiry is not checked here: the use case decides with its own clock."""

    @abc.abstractmethod
    def public_keys(self) -> list[PublicQuoteKey]:
        """Every key a quote id of ours may be signed with, the active one first."""
