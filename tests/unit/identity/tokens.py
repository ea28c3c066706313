"""Verifies access tokens the way the gateway does: with PyJWT, against a JWKS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jwt

ISSUER = "https://identity.lastmile.dev"
AUDIENCE = "lastmile"


def verify_with_jwks(
    token: str, jwks: Sequence[Mapping[str, str]], *, issuer: str = ISSUER
) -> dict[str, Any]:
    """The token's claims, if a key in `jwks` with the token's kid verifies it."""
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in jwks if key["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(dict(jwk)).key,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=issuer,
        options={"require": ["iss", "aud", "sub", "role", "exp", "iat", "jti"]},
    )
    return claims
