"""Quote ids as compact JWS tokens (EdDSA, PyJWT; services/contracts/quote_token.py):
self-contained and tamper-evident, so that pricing stays stateless, and verifiable by orders
with pricing's public keys alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.contracts import quote_token
from services.pricing.adapters.quote_key_ring import QuoteKeyRing
from services.pricing.domain.tariff import PriceComponent, PriceLine
from services.pricing.service_layer.ports import (
    PublicQuoteKey,
    QuoteClaims,
    QuoteSigner,
    SignatureInvalid,
)
from services.shared_kernel.money import Money


class JwtQuoteSigner(QuoteSigner):
    """Signs with the ring's active key; opens what any key of the ring signed."""

    def __init__(self, keys: QuoteKeyRing) -> None:
        self._keys = keys
        self._public_keys = keys.public_keys()

    def sign(self, claims: QuoteClaims) -> str:
        payload: dict[str, Any] = {
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
        return quote_token.encode(payload, self._keys.active_key, self._keys.active_kid)

    def open(self, quote_id: str) -> QuoteClaims:
        try:
            key = self._keys.private_keys.get(quote_token.key_id(quote_id))
            if key is None:
                raise SignatureInvalid("signed with a key pricing does not hold")
            payload = quote_token.decode(quote_id, key.public_key())
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
        except (quote_token.QuoteTokenInvalid, KeyError, TypeError, ValueError) as invalid:
            raise SignatureInvalid(str(invalid)) from invalid

    def public_keys(self) -> list[PublicQuoteKey]:
        return list(self._public_keys)
