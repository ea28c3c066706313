"""The cryptography identity's use cases depend on: password hashing and token signing."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import datetime

from services.identity.domain.session import AccessClaims
from services.identity.domain.signing_key import SigningKey

Clock = Callable[[], datetime]


class PasswordHasher(abc.ABC):
    """One-way password hashes that can be upgraded when their parameters change."""

    @abc.abstractmethod
    async def hash(self, password: str) -> str: ...

    @abc.abstractmethod
    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches. With no hash (an unknown email), verify against a
        dummy hash and return False, so that both cases cost the same time."""

    @abc.abstractmethod
    def needs_rehash(self, password_hash: str) -> bool: ...


class KeyUnusable(RuntimeError):
    """A stored private key cannot be unsealed (for example, the encryption key changed)."""


class TokenSigner(abc.ABC):
    """Makes signing keys (private half sealed for storage) and signs access tokens."""

    @abc.abstractmethod
    def generate_key(self, now: datetime) -> SigningKey: ...

    @abc.abstractmethod
    def check_usable(self, key: SigningKey) -> None:
        """Raise KeyUnusable unless the private key can be unsealed."""

    @abc.abstractmethod
    def sign(self, key: SigningKey, claims: AccessClaims) -> str: ...
