"""Typed settings fail fast, name the bad variable, and refuse default secrets in production."""

from __future__ import annotations

import pytest

from services.orders.config import OrdersSettings
from services.pricing.config import PricingSettings
from services.runtime.config import ConfigurationError, load_settings


def test_settings_come_from_prefixed_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LASTMILE_PRICING_GRPC_PORT", "6001")
    monkeypatch.setenv("LASTMILE_PRICING_SHUTDOWN_GRACE_SECONDS", "3.5")
    settings = load_settings(PricingSettings)
    assert (settings.grpc_port, settings.shutdown_grace_seconds) == (6001, 3.5)


def test_a_bad_value_fails_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_PRICING_GRPC_PORT", "seventy")
    monkeypatch.setenv("LASTMILE_PRICING_CURRENCY", "euro")
    with pytest.raises(ConfigurationError) as failed:
        load_settings(PricingSettings)
    message = str(failed.value)
    assert "LASTMILE_PRICING_GRPC_PORT" in message
    assert "LASTMILE_PRICING_CURRENCY" in message


def test_production_refuses_the_development_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_PRICING_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as failed:
        load_settings(PricingSettings)
    assert "LASTMILE_PRICING_QUOTE_KEYS_FILE" in str(failed.value)
    monkeypatch.setenv("LASTMILE_PRICING_QUOTE_KEYS_FILE", "/etc/lastmile/quote-keys/keys.pem")
    assert load_settings(PricingSettings).environment == "production"


def test_secrets_never_appear_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_ORDERS_PAGE_TOKEN_KEY", "s3cr3t" * 8)
    assert "s3cr3t" not in repr(load_settings(OrdersSettings))


def test_a_rejected_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_ORDERS_PAGE_TOKEN_KEY", "short-s3cr3t")
    with pytest.raises(ConfigurationError) as failed:
        load_settings(OrdersSettings)
    assert "LASTMILE_ORDERS_PAGE_TOKEN_KEY" in str(failed.value)
    assert "s3cr3t" not in str(failed.value)


def test_the_trace_sample_ratio_is_a_setting_of_each_service_and_defaults_to_every_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(PricingSettings).trace_sample_ratio == 1.0
    monkeypatch.setenv("LASTMILE_PRICING_TRACE_SAMPLE_RATIO", "0.01")
    assert load_settings(PricingSettings).trace_sample_ratio == 0.01


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "often"])
def test_a_trace_sample_ratio_outside_zero_to_one_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, ratio: str
) -> None:
    monkeypatch.setenv("LASTMILE_PRICING_TRACE_SAMPLE_RATIO", ratio)
    with pytest.raises(ConfigurationError) as failed:
        load_settings(PricingSettings)
    assert "LASTMILE_PRICING_TRACE_SAMPLE_RATIO: " in str(failed.value)
    assert repr(ratio) in str(failed.value)
