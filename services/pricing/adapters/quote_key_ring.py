"""pricing's quote signing keys (Ed25519), read from a PEM bundle that every replica mounts:
the first key signs new quotes, the others stay published so that quotes they signed before a
rotation still verify. The private keys never leave this process; only public JWKs do."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from services.contracts.quote_token import ALGORITHM
from services.pricing.service_layer.ports import PublicQuoteKey

# RFC 7468 permits explanatory text around each block; only the blocks are keys.
_PEM_BLOCK = re.compile(rb"-----BEGIN PRIVATE KEY-----\r?\n.+?-----END PRIVATE KEY-----", re.DOTALL)


class QuoteKeysUnusable(ValueError):
    """The configured key bundle is empty, unreadable or holds a key of another kind."""


def generate_pem() -> bytes:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM, the form the bundle holds
    (the same as `openssl genpkey -algorithm ed25519`)."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class QuoteKeyRing:
    """The keys by kid; `active_kid` names the one that signs."""

    active_kid: str
    private_keys: Mapping[str, ed25519.Ed25519PrivateKey]

    @classmethod
    def from_pem(cls, bundle: bytes, *, source: str = "the quote key bundle") -> QuoteKeyRing:
        blocks = _PEM_BLOCK.findall(bundle)
        if not blocks:
            raise QuoteKeysUnusable(f"{source} holds no PKCS#8 private key (BEGIN PRIVATE KEY)")
        keys: dict[str, ed25519.Ed25519PrivateKey] = {}
        for number, block in enumerate(blocks, start=1):
            try:
                loaded = serialization.load_pem_private_key(block, password=None)
            except (ValueError, TypeError) as unreadable:
                raise QuoteKeysUnusable(f"key {number} of {source} is unreadable") from unreadable
            if not isinstance(loaded, ed25519.Ed25519PrivateKey):
                raise QuoteKeysUnusable(
                    f"key {number} of {source} is not an Ed25519 key; quotes are signed with "
                    f"{ALGORITHM} (openssl genpkey -algorithm ed25519)"
                )
            kid = key_id(loaded.public_key())
            if kid in keys:
                raise QuoteKeysUnusable(f"key {number} of {source} repeats an earlier key")
            keys[kid] = loaded
        return cls(next(iter(keys)), MappingProxyType(keys))

    @classmethod
    def from_file(cls, path: Path) -> QuoteKeyRing:
        try:
            bundle = path.read_bytes()
        except OSError as unreadable:
            raise QuoteKeysUnusable(f"cannot read the quote keys at {path}: {unreadable}") from None
        return cls.from_pem(bundle, source=str(path))

    @classmethod
    def ephemeral(cls) -> QuoteKeyRing:
        """One key made for this process: development only, since another replica (or this
        one after a restart) would not verify its quotes."""
        return cls.from_pem(generate_pem(), source="a generated key")

    @property
    def active_key(self) -> ed25519.Ed25519PrivateKey:
        return self.private_keys[self.active_kid]

    def public_keys(self) -> list[PublicQuoteKey]:
        """Every key's public half, the active one first."""
        return [
            PublicQuoteKey(
                kid=kid,
                algorithm=ALGORITHM,
                x=_public_x(key.public_key()),
                active=kid == self.active_kid,
            )
            for kid, key in self.private_keys.items()
        ]


def _public_x(public_key: ed25519.Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64url(raw)


def key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of the key: derived from the key itself, so
    every replica names the same key alike and no configured kid can disagree with it."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _public_x(public_key)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())
