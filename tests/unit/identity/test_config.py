"""identity's settings: development defaults, and what production refuses."""

from __future__ import annotations

import pytest

from services.identity.config import IdentitySettings
from services.runtime.config import ConfigurationError, load_settings

STRONG = {
    "key_encryption_secret": "a-production-key-encryption-secret-0123",
    "ops_email": "ops@lastmile.example",
    "ops_password": "a long production operator passphrase",
}


def test_defaults_name_the_service_ports_and_database() -> None:
    settings = IdentitySettings()
    assert (settings.grpc_port, settings.admin_port) == (50050, 9450)
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/identity"
    assert settings.access_token_ttl_seconds == 900


def test_environment_variables_are_read_with_the_identity_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASTMILE_IDENTITY_ACCESS_TOKEN_TTL_SECONDS", "300")
    monkeypatch.setenv("LASTMILE_IDENTITY_TOKEN_ISSUER", "https://id.example")
    settings = load_settings(IdentitySettings)
    assert (settings.access_token_ttl_seconds, settings.token_issuer) == (300, "https://id.example")


def test_production_refuses_the_development_secrets() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(IdentitySettings, environment="production")
    assert "LASTMILE_IDENTITY_KEY_ENCRYPTION_SECRET" in str(refused.value)
    assert "LASTMILE_IDENTITY_OPS_PASSWORD" in str(refused.value)


def test_production_accepts_its_own_secrets() -> None:
    assert load_settings(IdentitySettings, environment="production", **STRONG).ops_email


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"ops_password": "short"}, "LASTMILE_IDENTITY_OPS_PASSWORD: too weak"),
        ({"ops_email": ""}, "LASTMILE_IDENTITY_OPS_EMAIL: is required"),
        ({"ops_email": "nope"}, "LASTMILE_IDENTITY_OPS_EMAIL: is not a valid"),
    ],
)
def test_production_refuses_a_missing_or_weak_ops_account(
    overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(IdentitySettings, environment="production", **{**STRONG, **overrides})
    assert named in str(refused.value)
    # Neither the rejected password nor any other secret is echoed back.
    assert "short" not in str(refused.value)
    assert STRONG["key_encryption_secret"] not in str(refused.value)
