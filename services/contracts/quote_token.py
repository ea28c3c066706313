"""The quote token: the compact JWS that pricing issues as a quote id and orders verifies
with pricing's public keys (PricingInternalService/ListQuoteKeys). Its one format, for both.

Header: `alg` EdDSA and the signing key's `kid`. Claims: `aud` (below), `iat` and `exp`
(seconds), `terms` (the terms fingerprint, services/shared_kernel/terms.py), `cur` and `amt`
(the price in minor units), `dist` (metres) and `lines` (the breakdown as [kind, amount]).
"""

from __future__ import annotations

from typing import Any

import jwt

AUDIENCE = "lastmile.pricing.quote"
ALGORITHM = "EdDSA"
_REQUIRED = ["aud", "iat", "exp", "terms", "cur", "amt"]


class QuoteTokenInvalid(Exception):
    """Not a quote token, signed with another key, or altered since it was signed."""


def encode(claims: dict[str, Any], private_key: Any, kid: str) -> str:
    return jwt.encode(
        {"aud": AUDIENCE, **claims}, private_key, algorithm=ALGORITHM, headers={"kid": kid}
    )


def key_id(token: str) -> str:
    """The `kid` the token names, unverified: which key to check its signature with."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as invalid:
        raise QuoteTokenInvalid(str(invalid)) from invalid
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
        raise QuoteTokenInvalid(f"the token is not an {ALGORITHM} token with a kid")
    return kid


def decode(token: str, public_key: Any) -> dict[str, Any]:
    """The claims, once the signature, the algorithm and the audience hold. Expiry is not
    checked here: the caller decides with its own (injectable) clock."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": _REQUIRED,
            },
        )
    except jwt.InvalidTokenError as invalid:
        raise QuoteTokenInvalid(str(invalid)) from invalid
    return claims
