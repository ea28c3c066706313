"""Presented quotes verified inside orders: the quote id's signature with pricing's public
key (services/contracts/quote_token.py), its terms against the delivery's, and its expiry
by orders' clock. No call to pricing, except to learn a key orders does not hold yet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.contracts import quote_token
from services.orders.adapters.pricing_quote_keys import PricingQuoteKeys
from services.orders.domain.quote import Quote, QuoteExpired, QuoteInvalid
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.ports import Clock
from services.shared_kernel.money import Money
from services.shared_kernel.terms import terms_fingerprint

_NOT_ISSUED = "was not issued by pricing or has been altered"


class SignedQuotes:
    """Decides whether a presented quote id holds for a delivery request, now."""

    def __init__(self, keys: PricingQuoteKeys, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def verify(self, quote_id: str, request: DeliveryRequest) -> Quote:
        """QuoteInvalid if forged, altered, malformed or for other terms; QuoteExpired once
        expired; Unavailable if the key it names cannot be learnt from pricing now."""
        try:
            kid = quote_token.key_id(quote_id)
        except quote_token.QuoteTokenInvalid as invalid:
            raise QuoteInvalid(_NOT_ISSUED) from invalid
        key = await self._keys.key(kid)
        if key is None:
            raise QuoteInvalid(f"{_NOT_ISSUED} (signed with a key pricing does not publish)")
        try:
            claims = quote_token.decode(quote_id, key)
            quote, fingerprint = _quote(quote_id, claims)
        except (quote_token.QuoteTokenInvalid, KeyError, TypeError, ValueError) as invalid:
            raise QuoteInvalid(_NOT_ISSUED) from invalid
        if fingerprint != terms_fingerprint(
            request.pickup.point, request.dropoff.point, request.parcel, request.service_level
        ):
            raise QuoteInvalid("was issued for different delivery terms")
        if self._clock() >= quote.expires_at:
            raise QuoteExpired(quote.expires_at.isoformat())
        return quote


def _quote(quote_id: str, claims: dict[str, Any]) -> tuple[Quote, str]:
    quote = Quote(
        quote_id=quote_id,
        price=Money(int(claims["amt"]), str(claims["cur"])),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )
    return quote, str(claims["terms"])
