"""The quote key bundle pricing reads: Ed25519 keys in PEM, the first signs, kids derived
from the keys; anything else is refused at start with a message that says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.pricing.adapters.quote_key_ring import QuoteKeyRing, QuoteKeysUnusable, generate_pem
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from services.runtime.config import ConfigurationError


def test_every_replica_names_the_keys_of_one_bundle_alike(tmp_path: Path) -> None:
    bundle = tmp_path / "quote-keys.pem"
    bundle.write_bytes(b"# the next key goes first\n" + generate_pem() + generate_pem())
    one, other = QuoteKeyRing.from_file(bundle), QuoteKeyRing.from_file(bundle)
    assert one.public_keys() == other.public_keys()
    assert [key.active for key in one.public_keys()] == [True, False]
    assert one.active_kid == one.public_keys()[0].kid
    # An RFC 7638 thumbprint: SHA-256, base64url without padding.
    assert len(one.active_kid) == 43


def test_public_keys_carry_no_private_material() -> None:
    ring = QuoteKeyRing.from_pem(generate_pem())
    [public] = ring.public_keys()
    raw = ring.active_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert public.algorithm == "EdDSA"
    assert raw.hex() not in repr(public)
    assert len(public.x) == 43  # 32 bytes of public key


@pytest.mark.parametrize(
    ("bundle", "why"),
    [
        (b"", "holds no PKCS#8 private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "is unreadable"),
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "is not an Ed25519 key",
        ),
    ],
    ids=["empty", "garbage", "p-256"],
)
def test_an_unusable_bundle_is_refused(bundle: bytes, why: str) -> None:
    with pytest.raises(QuoteKeysUnusable, match=why):
        QuoteKeyRing.from_pem(bundle)


def test_a_key_twice_in_the_bundle_is_refused() -> None:
    key = generate_pem()
    with pytest.raises(QuoteKeysUnusable, match="repeats an earlier key"):
        QuoteKeyRing.from_pem(key + key)


def test_pricing_stops_at_start_naming_the_variable_of_a_missing_key_file(tmp_path: Path) -> None:
    settings = PricingSettings(quote_keys_file=tmp_path / "absent.pem")
    with pytest.raises(ConfigurationError, match="LASTMILE_PRICING_QUOTE_KEYS_FILE: cannot read"):
        bootstrap(settings)
