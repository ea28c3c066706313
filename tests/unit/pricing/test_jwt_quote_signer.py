"""The JWS quote signer: round trip, and refusal of anything altered or foreign."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.domain.tariff import PriceComponent, PriceLine
from services.pricing.service_layer.ports import QuoteClaims, SignatureInvalid
from services.shared_kernel.money import Money

KEY = "a-test-key-that-is-long-enough-for-hs256!"
CREATED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CLAIMS = QuoteClaims(
    terms_fingerprint="f" * 32,
    price=Money(1265, "EUR"),
    breakdown=(
        PriceLine(PriceComponent.BASE_FEE, Money(250, "EUR")),
        PriceLine(PriceComponent.DISTANCE, Money(1015, "EUR")),
    ),
    distance_meters=8460,
    created_at=CREATED,
    expires_at=CREATED + timedelta(minutes=15),
)


def test_claims_survive_a_round_trip() -> None:
    signer = JwtQuoteSigner(KEY)
    assert signer.open(signer.sign(CLAIMS)) == CLAIMS


def test_an_expired_token_still_opens_so_the_use_case_can_say_expired() -> None:
    signer = JwtQuoteSigner(KEY)
    old = replace(
        CLAIMS,
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
        expires_at=datetime(2020, 1, 1, 0, 15, tzinfo=UTC),
    )
    assert signer.open(signer.sign(old)).expires_at.year == 2020


def test_a_token_with_a_lowered_price_is_rejected() -> None:
    token = JwtQuoteSigner(KEY).sign(CLAIMS)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["amt"] = 1
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SignatureInvalid):
        JwtQuoteSigner(KEY).open(f"{header}.{forged_payload}.{signature}")


def test_a_token_signed_with_another_key_is_rejected() -> None:
    token = JwtQuoteSigner("another-key-that-is-also-long-enough!!").sign(CLAIMS)
    with pytest.raises(SignatureInvalid):
        JwtQuoteSigner(KEY).open(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(SignatureInvalid):
        JwtQuoteSigner(KEY).open(garbage)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        JwtQuoteSigner("short")
