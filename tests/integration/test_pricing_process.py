"""pricing as a real process, driven by real clients: buf curl and the README's grpcurl
commands through reflection, the health service, and a graceful SIGTERM that drains and
exits 0 leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lastmile.common.v1 import geo_pb2, parcel_pb2
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from tests.readme_commands import readme_commands, run_grpcurl
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow
QUOTE_REQUEST = pricing_pb2.CreateQuoteRequest(
    terms=pricing_pb2.DeliveryTerms(
        pickup=geo_pb2.GeoPoint(latitude=52.5219, longitude=13.4132),
        dropoff=geo_pb2.GeoPoint(latitude=52.5319, longitude=13.4132),
        parcel=parcel_pb2.Parcel(size=parcel_pb2.PARCEL_SIZE_SMALL, weight_grams=1000),
        service_level=parcel_pb2.SERVICE_LEVEL_STANDARD,
    )
)
BUF = str(Path(sys.executable).parent / "buf")


@dataclass
class RunningPricing:
    """The process under test, its address and its log."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_pricing(tmp_path: Path, **settings: str) -> Iterator[RunningPricing]:
    """pricing as `python -m services.pricing`, with LASTMILE_PRICING_<NAME> `settings`."""
    port, admin_port = free_port(), free_port()
    log = tmp_path / "pricing.log"
    env = {
        **os.environ,
        "LASTMILE_PRICING_GRPC_PORT": str(port),
        "LASTMILE_PRICING_ADMIN_PORT": str(admin_port),
        "LASTMILE_PRICING_DRAIN_DELAY_SECONDS": "0.5",
        "LASTMILE_PRICING_SHUTDOWN_GRACE_SECONDS": "5",
        **{f"LASTMILE_PRICING_{name.upper()}": value for name, value in settings.items()},
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.pricing"], env=env, stdout=sink, stderr=sink
        )
    try:
        wait_until_serving(port)
        yield RunningPricing(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def pricing(tmp_path: Path) -> Iterator[RunningPricing]:
    with running_pricing(tmp_path) as running:
        yield running


def buf_curl(*args: str) -> str:
    result = subprocess.run(
        [BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_buf_curl_lists_services_through_reflection(pricing: RunningPricing) -> None:
    services = set(buf_curl("--list-services", pricing.url).split())
    assert services == {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "lastmile.pricing.v1.PricingInternalService",
        "lastmile.pricing.v1.PricingService",
    }


def test_buf_curl_checks_health_and_gets_a_quote(pricing: RunningPricing) -> None:
    health = json.loads(buf_curl(f"{pricing.url}/grpc.health.v1.Health/Check"))
    assert health == {"status": "SERVING"}
    request = {
        "terms": {
            "pickup": {"latitude": 52.5219, "longitude": 13.4132},
            "dropoff": {"latitude": 52.5319, "longitude": 13.4132},
            "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": 1000},
            "serviceLevel": "SERVICE_LEVEL_STANDARD",
        }
    }
    reply = json.loads(
        buf_curl(
            "-d",
            json.dumps(request),
            f"{pricing.url}/lastmile.pricing.v1.PricingService/CreateQuote",
        )
    )
    assert reply["quote"]["price"] == {"amountMinor": "500", "currencyCode": "EUR"}


def test_the_readmes_grpcurl_commands_list_check_health_and_quote_through_reflection(
    pricing: RunningPricing,
) -> None:
    direct = {
        words[-1]: words for words in readme_commands("grpcurl") if "127.0.0.1:50051" in words
    }
    assert set(direct) == {
        "list",
        "grpc.health.v1.Health/Check",
        "lastmile.pricing.v1.PricingService/CreateQuote",
    }
    outputs = {}
    for last, command in direct.items():
        result = run_grpcurl(command, {"127.0.0.1:50051": f"127.0.0.1:{pricing.port}"})
        assert result.returncode == 0, result.stderr
        outputs[last] = result.stdout

    assert set(outputs["list"].split()) == {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "lastmile.pricing.v1.PricingInternalService",
        "lastmile.pricing.v1.PricingService",
    }
    assert json.loads(outputs["grpc.health.v1.Health/Check"]) == {"status": "SERVING"}
    quote = json.loads(outputs["lastmile.pricing.v1.PricingService/CreateQuote"])["quote"]
    # grpcurl prints the proto's own field names (buf curl prints the JSON names).
    assert quote["price"] == {"amount_minor": "500", "currency_code": "EUR"}


def test_sigterm_reports_not_serving_drains_and_exits_zero(pricing: RunningPricing) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{pricing.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="lastmile.pricing.v1.PricingService"),
            timeout=30,
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        pricing.process.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
    assert pricing.process.wait(timeout=30) == 0
    # Nothing is left behind: the port is free again and the log ends with "stopped".
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", pricing.port))
    last = json.loads(pricing.log.read_text().strip().splitlines()[-1])
    assert last["message"] == "stopped"


def test_the_access_lines_of_calls_just_before_sigterm_reach_the_log(tmp_path: Path) -> None:
    # An hour between timed flushes: only the graceful shutdown can write these lines out.
    with running_pricing(tmp_path, log_flush_seconds="3600") as pricing:
        request_ids = [f"before-sigterm-{number}" for number in range(20)]
        with grpc.insecure_channel(f"127.0.0.1:{pricing.port}") as channel:
            create_quote = pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote
            for request_id in request_ids:
                create_quote(QUOTE_REQUEST, metadata=(("x-request-id", request_id),), timeout=10)
        assert "before-sigterm" not in pricing.log.read_text()  # still in the buffer
        pricing.process.send_signal(signal.SIGTERM)
        assert pricing.process.wait(timeout=30) == 0
    logged = [json.loads(line) for line in pricing.log.read_text().splitlines()]
    access = [entry for entry in logged if entry["logger"] == "lastmile.access"]
    quotes = [entry["request_id"] for entry in access if entry["rpc"].endswith("/CreateQuote")]
    assert quotes == request_ids
    assert all(entry["code"] == "OK" for entry in access)
