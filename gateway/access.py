"""Which public RPCs the edge serves without a bearer token, and which get the strict rate limit.

The OpenAPI document and the Envoy jwt_authn rules both read this set, so they cannot disagree.
"""

from __future__ import annotations

ANONYMOUS_METHODS: frozenset[str] = frozenset(
    {
        "lastmile.identity.v1.IdentityService/CreateAccount",
        "lastmile.identity.v1.IdentityService/CreateSession",
        # Prospective customers price a delivery before they sign up.
        "lastmile.pricing.v1.PricingService/CreateQuote",
    }
)

# Log-in answers whether a password is right, so the edge slows down anyone guessing.
STRICTLY_LIMITED_METHODS: frozenset[str] = frozenset(
    {"lastmile.identity.v1.IdentityService/CreateSession"}
)
