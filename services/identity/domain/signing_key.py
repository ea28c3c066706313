"""Token signing keys: one active key at a time; retired keys stay published until every
token they signed has expired."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PublicJwk:
    """The public half of an EC key, as JWK members (RFC 7518 section 6.2.1)."""

    kty: str
    crv: str
    x: str
    y: str


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key pair. `sealed_private_key` is opaque here: encrypted at rest by an adapter."""

    kid: str
    algorithm: str
    public_jwk: PublicJwk
    sealed_private_key: bytes
    created_at: datetime
    retired_at: datetime | None = None
    # When the last token this key may have signed expires; unpublished after that.
    retire_after: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    def is_published(self, now: datetime) -> bool:
        return self.retire_after is None or now < self.retire_after

    def is_older_than(self, age: timedelta, now: datetime) -> bool:
        return now - self.created_at >= age

    def retire(self, now: datetime, token_ttl: timedelta, leeway: timedelta) -> SigningKey:
        """Stop signing with this key; keep it verifiable for one token lifetime plus
        `leeway` (clock skew between identity and verifiers)."""
        return dataclasses.replace(self, retired_at=now, retire_after=now + token_ttl + leeway)

    def jwk(self) -> dict[str, str]:
        """The JWK (RFC 7517) that verifies this key's tokens."""
        return {
            "kty": self.public_jwk.kty,
            "crv": self.public_jwk.crv,
            "x": self.public_jwk.x,
            "y": self.public_jwk.y,
            "alg": self.algorithm,
            "use": "sig",
            "kid": self.kid,
        }
