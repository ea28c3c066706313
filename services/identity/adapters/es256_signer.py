"""ES256 keys (P-256) and access tokens (PyJWT); private keys are sealed at rest as
PKCS#8 PEM encrypted with the key-encryption secret."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.identity.domain.session import AccessClaims
from services.identity.domain.signing_key import PublicJwk, SigningKey
from services.identity.service_layer.ports import KeyUnusable, TokenSigner

ALGORITHM = "ES256"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> PublicJwk:
    numbers = public_key.public_numbers()
    return PublicJwk(
        kty="EC",
        crv="P-256",
        x=_b64url(numbers.x.to_bytes(32, "big")),
        y=_b64url(numbers.y.to_bytes(32, "big")),
    )


def thumbprint(jwk: PublicJwk) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256): a kid derived from the key itself."""
    members = {"crv": jwk.crv, "kty": jwk.kty, "x": jwk.x, "y": jwk.y}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


class Es256TokenSigner(TokenSigner):
    """Signs with P-256 keys; unsealed private keys are cached by kid for the process."""

    def __init__(self, key_encryption_secret: str) -> None:
        self._secret = key_encryption_secret.encode()
        self._unsealed: dict[str, ec.EllipticCurvePrivateKey] = {}

    def generate_key(self, now: datetime) -> SigningKey:
        private_key = ec.generate_private_key(ec.SECP256R1())
        public_jwk = _public_jwk(private_key.public_key())
        sealed = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._secret),
        )
        kid = thumbprint(public_jwk)
        self._unsealed[kid] = private_key
        return SigningKey(kid, ALGORITHM, public_jwk, sealed, now)

    def check_usable(self, key: SigningKey) -> None:
        self._private_key(key)

    def sign(self, key: SigningKey, claims: AccessClaims) -> str:
        payload = {
            "iss": claims.issuer,
            "aud": claims.audience,
            "sub": claims.subject,
            "role": claims.role.value,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": claims.token_id,
        }
        return jwt.encode(
            payload, self._private_key(key), algorithm=ALGORITHM, headers={"kid": key.kid}
        )

    def _private_key(self, key: SigningKey) -> ec.EllipticCurvePrivateKey:
        cached = self._unsealed.get(key.kid)
        if cached is not None:
            return cached
        try:
            loaded = serialization.load_pem_private_key(key.sealed_private_key, self._secret)
        except (ValueError, TypeError) as unreadable:
            raise KeyUnusable(
                f"signing key {key.kid} cannot be decrypted: the key-encryption secret "
                "(LASTMILE_IDENTITY_KEY_ENCRYPTION_SECRET) differs from the one it was sealed with"
            ) from unreadable
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise KeyUnusable(f"signing key {key.kid} is not an EC private key")
        self._unsealed[key.kid] = loaded
        return loaded
