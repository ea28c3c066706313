"""The launcher's pure parts: per-service settings and the combined log stream."""

from __future__ import annotations

import io
import json
from pathlib import Path

from services.devstack.components import SERVICES, Ports, ServiceSpec
from services.devstack.log_stream import LogStream, readable


def test_each_service_gets_its_own_prefixed_settings_and_its_upstreams_addresses() -> None:
    orders = next(spec for spec in SERVICES if spec.name == "orders")
    env = orders.env(Ports(orders=6002, pricing=6001), "postgresql://db/orders", "nats://n:1")
    assert env["LASTMILE_ORDERS_GRPC_PORT"] == "6002"
    assert env["LASTMILE_ORDERS_DATABASE_URL"] == "postgresql://db/orders"
    assert env["LASTMILE_ORDERS_NATS_URL"] == "nats://n:1"
    assert env["LASTMILE_ORDERS_PRICING_TARGET"] == "127.0.0.1:6001"
    assert all(key.startswith("LASTMILE_ORDERS_") for key in env)


def test_a_service_without_a_database_gets_no_database_url() -> None:
    pricing = ServiceSpec("pricing", "lastmile.pricing.v1.PricingService")
    assert "LASTMILE_PRICING_DATABASE_URL" not in pricing.env(Ports(), "postgresql://x", "n")


def test_upstreams_start_before_the_services_that_call_them() -> None:
    order = [spec.name for spec in SERVICES]
    for spec in SERVICES:
        for upstream in spec.upstreams:
            assert order.index(upstream) < order.index(spec.name)


def test_json_log_lines_become_readable_and_other_lines_pass_through() -> None:
    line = json.dumps({"time": "2026-11-29T05:00:01.123+00:00", "level": "info",
                       "service": "orders", "logger": "x", "message": "serving",
                       "grpc_address": "127.0.0.1:50052"})  # fmt: skip
    assert readable(line) == "05:00:01 info    serving grpc_address=127.0.0.1:50052"
    assert readable("LOG:  database system is ready") == "LOG:  database system is ready"


def test_the_stream_prints_only_new_complete_lines_once_with_the_component_name(
    tmp_path: Path,
) -> None:
    log = tmp_path / "pricing.log"
    log.write_text("before we followed\n")
    out = io.StringIO()
    stream = LogStream(out)
    stream.follow("pricing", log)
    with log.open("a") as writer:
        writer.write("first\nhalf a li")
    stream.pump()
    with log.open("a") as writer:
        writer.write("ne\n")
    stream.pump()
    stream.pump()
    assert out.getvalue().splitlines() == ["pricing | first", "pricing | half a line"]
