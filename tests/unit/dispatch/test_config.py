"""dispatch's settings: the documented defaults, and no default secret in production."""

from __future__ import annotations

import pytest

from services.dispatch.config import DispatchSettings
from services.runtime.config import ConfigurationError, load_settings


def test_the_defaults_are_the_documented_ones() -> None:
    settings = DispatchSettings()
    assert (settings.grpc_port, settings.admin_port) == (50054, 9454)
    assert (settings.offer_ttl_seconds, settings.offer_grace_seconds) == (20.0, 2.0)
    assert settings.replica_id


def test_production_refuses_the_development_page_token_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASTMILE_DISPATCH_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="LASTMILE_DISPATCH_PAGE_TOKEN_KEY"):
        load_settings(DispatchSettings)


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_DISPATCH_OFFER_TTL_SECONDS", "-1")
    with pytest.raises(ConfigurationError, match="LASTMILE_DISPATCH_OFFER_TTL_SECONDS"):
        load_settings(DispatchSettings)
