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
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.readme_commands import readme_commands, run_grpcurl
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow
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


@pytest.fixture
def pricing(tmp_path: Path) -> Iterator[RunningPricing]:
    port, admin_port = free_port(), free_port()
    log = tmp_path / "pricing.log"
    env = {
        **os.environ,
        "LASTMILE_PRICING_GRPC_PORT": str(port),
        "LASTMILE_PRICING_ADMIN_PORT": str(admin_port),
        "LASTMILE_PRICING_DRAIN_DELAY_SECONDS": "0.5",
        "LASTMILE_PRICING_SHUTDOWN_GRACE_SECONDS": "5",
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
