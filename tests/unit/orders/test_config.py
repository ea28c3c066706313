"""orders' settings: defaults for local runs, variables with their prefix, and no
development secret outside development."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.orders.config import OrdersSettings
from services.runtime.config import ConfigurationError, load_settings
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE


def test_the_defaults_fit_the_local_stack() -> None:
    settings = OrdersSettings()
    assert (settings.grpc_port, settings.admin_port) == (50052, 9452)
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/orders"
    assert (settings.nats_url, settings.pricing_target) == (
        "nats://127.0.0.1:4222",
        "127.0.0.1:50051",
    )
    assert OrdersSettings.service_name == "orders"


def test_variables_carry_the_orders_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_ORDERS_PRICING_DEADLINE_SECONDS", "0.5")
    monkeypatch.setenv("LASTMILE_ORDERS_PRICING_TARGET", "pricing:50051")
    settings = load_settings(OrdersSettings)
    assert (settings.pricing_deadline_seconds, settings.pricing_target) == (0.5, "pricing:50051")


def test_a_bad_value_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LASTMILE_ORDERS_PRICING_DEADLINE_SECONDS", "0")
    with pytest.raises(ConfigurationError, match="LASTMILE_ORDERS_PRICING_DEADLINE_SECONDS"):
        load_settings(OrdersSettings)


def test_production_refuses_the_development_page_token_key() -> None:
    with pytest.raises(ConfigurationError, match="LASTMILE_ORDERS_PAGE_TOKEN_KEY"):
        load_settings(OrdersSettings, environment="production")
    production = load_settings(OrdersSettings, environment="production", page_token_key="p" * 40)
    assert production.secrets_with_defaults() == []


def test_a_regions_file_with_overlapping_regions_fails_naming_the_variable_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    square = [[52, 13], [53, 13], [53, 14], [52, 14]]
    regions = tmp_path / "regions.json"
    regions.write_text(
        json.dumps(
            {"resolution": 5, "regions": [{"name": "a", "polygon": square}] * 1
             + [{"name": "b", "polygon": square}]}
        )
    )  # fmt: skip
    monkeypatch.setenv("LASTMILE_ORDERS_REGIONS_FILE", str(regions))
    with pytest.raises(ConfigurationError) as failed:
        load_settings(OrdersSettings)
    assert "LASTMILE_ORDERS_REGIONS_FILE" in str(failed.value)
    assert f"regions file {regions}: regions 'a' and 'b' overlap" in str(failed.value)


def test_the_regions_default_to_the_shipped_file() -> None:
    assert OrdersSettings().regions_file == SHIPPED_REGIONS_FILE
