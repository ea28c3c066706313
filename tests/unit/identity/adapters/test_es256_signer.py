"""ES256 keys and tokens: sealed at rest, signed with a kid, verifiable from the JWK."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from services.identity.adapters.es256_signer import Es256TokenSigner
from services.identity.domain.session import AccessClaims
from services.identity.service_layer.ports import KeyUnusable
from services.runtime.context import Role
from tests.unit.identity.conftest import KEY_SECRET
from tests.unit.identity.fakes import Clock
from tests.unit.identity.tokens import AUDIENCE, ISSUER, verify_with_jwks


def claims(clock: Clock) -> AccessClaims:
    return AccessClaims(
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=str(uuid.uuid4()),
        role=Role.MERCHANT,
        issued_at=clock.now,
        expires_at=clock.now + timedelta(minutes=15),
        token_id="token-1",
    )


def test_a_token_carries_the_kid_and_every_claim_and_verifies_with_the_jwk(
    signer: Es256TokenSigner, clock: Clock
) -> None:
    key = signer.generate_key(clock.now)
    expected = claims(clock)
    token = signer.sign(key, expected)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", key.kid)
    assert verify_with_jwks(token, [key.jwk()]) == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": expected.subject,
        "role": "merchant",
        "iat": int(clock.now.timestamp()),
        "exp": int(expected.expires_at.timestamp()),
        "jti": "token-1",
    }


def test_the_private_key_is_stored_encrypted_and_opens_with_the_same_secret_only(
    signer: Es256TokenSigner, clock: Clock
) -> None:
    key = signer.generate_key(clock.now)
    assert key.sealed_private_key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # A fresh process (no cache) unseals it and signs tokens the JWK verifies.
    token = Es256TokenSigner(KEY_SECRET).sign(key, claims(clock))
    assert verify_with_jwks(token, [key.jwk()])["role"] == "merchant"
    with pytest.raises(KeyUnusable):
        Es256TokenSigner("a-different-secret-0123456789abcdef").check_usable(key)


def test_each_key_gets_its_own_kid(signer: Es256TokenSigner, clock: Clock) -> None:
    assert signer.generate_key(clock.now).kid != signer.generate_key(clock.now).kid


def test_another_keys_jwk_does_not_verify_the_token(signer: Es256TokenSigner, clock: Clock) -> None:
    signing, other = signer.generate_key(clock.now), signer.generate_key(clock.now)
    token = signer.sign(signing, claims(clock))
    forged_jwks = [{**other.jwk(), "kid": signing.kid}]
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_jwks(token, forged_jwks)
