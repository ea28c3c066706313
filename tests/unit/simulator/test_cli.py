"""The simulator's command line: defaults, derived values, and refused flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.simulator.city import CITIES, BoundingBox
from services.simulator.cli import parse_arguments
from services.simulator.vehicles import Vehicle


def test_every_flag_has_a_default() -> None:
    settings, log_level = parse_arguments([])
    assert settings.edge == "http://127.0.0.1:8080"
    assert settings.grpc_target == "127.0.0.1:8080"
    assert (settings.couriers, settings.customers, settings.rate) == (20, 5, 1.0)
    assert (settings.duration, settings.speedup, settings.ping_interval) == (60.0, 10.0, 2.0)
    assert settings.accept_probability == 0.9
    assert settings.box == CITIES["berlin"]
    assert settings.vehicle_mix.weights == {
        Vehicle.BICYCLE: 0.6, Vehicle.MOTORBIKE: 0.3, Vehicle.CAR: 0.1,
    }  # fmt: skip
    assert (settings.json_path, settings.quiet, log_level) == (None, False, "WARNING")


def test_the_grpc_target_follows_the_edge_unless_given() -> None:
    settings, _ = parse_arguments(["--edge", "http://edge.local:9090/"])
    assert (settings.edge, settings.grpc_target) == ("http://edge.local:9090", "edge.local:9090")
    settings, _ = parse_arguments(["--grpc-target", "127.0.0.1:7000"])
    assert settings.grpc_target == "127.0.0.1:7000"


def test_a_bbox_overrides_the_city() -> None:
    settings, _ = parse_arguments(["--city", "paris", "--bbox", "52.0,13.0,52.1,13.2"])
    assert settings.box == BoundingBox(52.0, 13.0, 52.1, 13.2)


def test_flags_are_read() -> None:
    settings, _ = parse_arguments([
        "--couriers", "500", "--customers", "50", "--rate", "25", "--duration", "300",
        "--city", "london", "--speedup", "1", "--seed", "7", "--json", "out.json", "--quiet",
        "--vehicle-mix", "van=1",
    ])  # fmt: skip
    assert (settings.couriers, settings.customers, settings.rate) == (500, 50, 25.0)
    assert (settings.box, settings.seed, settings.quiet) == (CITIES["london"], 7, True)
    assert settings.json_path == Path("out.json")
    assert settings.vehicle_mix.weights == {Vehicle.VAN: 1.0}


@pytest.mark.parametrize(
    "flags",
    [
        ["--couriers", "0"],
        ["--rate", "0"],
        ["--accept-probability", "1.5"],
        ["--bbox", "52,13"],
        ["--vehicle-mix", "rocket=1"],
        ["--city", "atlantis"],
        ["--edge", "127.0.0.1:8080"],
    ],
)
def test_bad_flags_stop_with_a_usage_error(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(flags)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
