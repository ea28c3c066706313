"""fleet's settings: defaults, and refusals that name the variable."""

from __future__ import annotations

import pytest

from services.fleet.config import FleetSettings
from services.runtime.config import ConfigurationError, load_settings


def test_defaults_match_the_port_plan_and_the_contract() -> None:
    settings = FleetSettings()
    assert (settings.grpc_port, settings.admin_port) == (50053, 9453)
    assert (settings.heartbeat_interval_seconds, settings.heartbeat_timeout_seconds) == (10, 30)
    assert settings.position_flush_seconds == 0.05
    assert settings.replica_id


def test_dispatch_targets_are_a_list_of_host_ports() -> None:
    settings = FleetSettings(dispatch_targets="a:1, b:2")
    assert settings.dispatch_target_list == ["a:1", "b:2"]
    with pytest.raises(ConfigurationError, match="LASTMILE_FLEET_DISPATCH_TARGETS"):
        load_settings(FleetSettings, dispatch_targets="nowhere")


def test_a_heartbeat_timeout_shorter_than_the_interval_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="heartbeat_timeout_seconds"):
        load_settings(FleetSettings, heartbeat_interval_seconds=10, heartbeat_timeout_seconds=5)
