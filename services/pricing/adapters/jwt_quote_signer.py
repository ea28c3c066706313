"""Quote ids as compact JWS tokens (HS256, PyJWT): self-contained and tamper-evident,
so that pricing stays stateless and still recognises its own quotes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt

from services.pricing.domain.tariff import PriceComponent, PriceLine
from services.pricing.service_layer.ports import QuoteClaims, QuoteSigner, SignatureInvalid
from services.shared_kernel.money import Money

_AUDIENCE = "lastmile.pricing.quote"
_ALGORITHM = "HS256"


class JwtQuoteSigner(QuoteSigner):
    """Signs quote claims with a shared secret that only pricing holds."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the quote signing key must be at least 32 characters")
        self._secret = secret

    def sign(self, claims: QuoteClaims) -> str:
        payload: dict[str, Any] = {
            "aud": _AUDIENCE,
            "iat": int(claims.created_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "terms": claims.terms_fingerprint,
            "cur": claims.price.currency,
            "amt": claims.price.amount_minor,
            "dist": claims.distance_meters,
            "lines": [
                [line.component.value, line.amount.amount_minor] for line in claims.breakdown
            ],
        }
        return jwt.encode(payload, self._secret, algorithm=_ALGORITHM)

    def open(self, quote_id: str) -> QuoteClaims:
        try:
            payload = jwt.decode(
                quote_id,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                # Time is the use case's business (its clock is injectable); only
                # the signature and the audience are checked here.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["aud", "iat", "exp", "terms"],
                },
            )
            currency = str(payload["cur"])
            return QuoteClaims(
                terms_fingerprint=str(payload["terms"]),
                price=Money(int(payload["amt"]), currency),
                breakdown=tuple(
                    PriceLine(PriceComponent(kind), Money(int(amount), currency))
                    for kind, amount in payload["lines"]
                ),
                distance_meters=int(payload["dist"]),
                created_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            )
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as invalid:
            raise SignatureInvalid(str(invalid)) from invalid
