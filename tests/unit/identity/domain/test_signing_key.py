"""Signing keys: a retired key stays published until its last token has expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.identity.domain.signing_key import PublicJwk, SigningKey

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def key() -> SigningKey:
    return SigningKey("kid-1", "ES256", PublicJwk("EC", "P-256", "xx", "yy"), b"sealed", NOW)


def test_a_new_key_is_active_and_published() -> None:
    assert key().is_active
    assert key().is_published(NOW + timedelta(days=365))


def test_a_retired_key_is_published_for_one_token_lifetime_plus_leeway() -> None:
    retired = key().retire(NOW, timedelta(minutes=15), timedelta(seconds=60))
    assert not retired.is_active
    assert retired.retire_after == NOW + timedelta(minutes=16)
    assert retired.is_published(NOW + timedelta(minutes=16) - timedelta(seconds=1))
    assert not retired.is_published(NOW + timedelta(minutes=16))


def test_the_jwk_names_the_key_algorithm_and_use_but_no_private_material() -> None:
    assert key().jwk() == {
        "kty": "EC",
        "crv": "P-256",
        "x": "xx",
        "y": "yy",
        "alg": "ES256",
        "use": "sig",
        "kid": "kid-1",
    }


def test_age_is_measured_from_creation() -> None:
    assert key().is_older_than(timedelta(days=90), NOW + timedelta(days=90))
    assert not key().is_older_than(timedelta(days=90), NOW + timedelta(days=89))
