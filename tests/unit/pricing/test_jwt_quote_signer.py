"""The JWS quote signer: round trip, refusal of anything altered or foreign, and a key ring
in rotation (the first key signs, every key of the ring opens)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.pricing.adapters.jwt_quote_signer import JwtQuoteSigner
from services.pricing.adapters.quote_key_ring import QuoteKeyRing, generate_pem
from services.pricing.domain.tariff import PriceComponent, PriceLine
from services.pricing.service_layer.ports import QuoteClaims, SignatureInvalid
from services.shared_kernel.money import Money

KEY = generate_pem()
OTHER_KEY = generate_pem()
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


def signer(*bundle: bytes) -> JwtQuoteSigner:
    return JwtQuoteSigner(QuoteKeyRing.from_pem(b"".join(bundle or (KEY,))))


def test_claims_survive_a_round_trip() -> None:
    assert signer().open(signer().sign(CLAIMS)) == CLAIMS


def test_a_quote_id_is_an_eddsa_jws_naming_its_key() -> None:
    header = jwt.get_unverified_header(signer().sign(CLAIMS))
    assert header["alg"] == "EdDSA"
    assert header["kid"] == signer().public_keys()[0].kid


def test_an_expired_token_still_opens_so_the_use_case_can_say_expired() -> None:
    old = replace(
        CLAIMS,
        created_at=datetime(2020, 1, 1, tzinfo=UTC),
        expires_at=datetime(2020, 1, 1, 0, 15, tzinfo=UTC),
    )
    assert signer().open(signer().sign(old)).expires_at.year == 2020


def test_a_token_with_a_lowered_price_is_rejected() -> None:
    token = signer().sign(CLAIMS)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["amt"] = 1
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SignatureInvalid):
        signer().open(f"{header}.{forged_payload}.{signature}")


def test_a_token_signed_with_another_key_is_rejected() -> None:
    token = signer(OTHER_KEY).sign(CLAIMS)
    with pytest.raises(SignatureInvalid, match="a key pricing does not hold"):
        signer().open(token)


def test_a_token_naming_our_kid_but_signed_by_another_key_is_rejected() -> None:
    ours = signer().sign(CLAIMS)
    theirs = signer(OTHER_KEY).sign(CLAIMS)
    spliced = ".".join([*ours.split(".")[:2], theirs.split(".")[2]])
    with pytest.raises(SignatureInvalid):
        signer().open(spliced)


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.AAAA"],
)
def test_garbage_and_other_algorithms_are_rejected(garbage: str) -> None:
    with pytest.raises(SignatureInvalid):
        signer().open(garbage)


def test_during_a_rotation_the_first_key_signs_and_the_previous_one_still_opens() -> None:
    before = signer(KEY).sign(CLAIMS)
    rotated = signer(OTHER_KEY, KEY)
    after = rotated.sign(CLAIMS)
    assert rotated.open(before) == rotated.open(after) == CLAIMS
    active, previous = rotated.public_keys()
    assert (active.active, previous.active) == (True, False)
    assert jwt.get_unverified_header(after)["kid"] == active.kid
    assert jwt.get_unverified_header(before)["kid"] == previous.kid
