"""End to end: the same launcher `make run` uses starts the whole mesh; a customer uses
it over REST through the real Envoy edge; the launcher stops it and nothing is left.

Every test runs against both mesh modes: services calling each other directly, and through
Envoy sidecars with mTLS and RBAC (`make run MESH=sidecars`, the Kubernetes topology)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.components import Ports
from services.devstack.ports import free_port, is_port_free

pytestmark = pytest.mark.slow


@dataclass
class RunningMesh:
    """The launcher process, its ports and its state directory."""

    process: subprocess.Popen[bytes]
    mode: str
    ports: Ports
    state_dir: Path
    output: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports.edge}"

    def status(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.state_dir / "run.json").read_text())
        return loaded


def call(
    mesh: RunningMesh,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    request = urllib.request.Request(
        mesh.base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def free_port_block(size: int = 600) -> int:
    """The first port of `size` free ones, below the kernel's ephemeral range (where the
    other ports of these tests come from)."""
    for base in range(20_000, 32_000 - size, size):
        if all(is_port_free(port) for port in range(base, base + size)):
            return base
    raise AssertionError("no block of free ports for the sidecars")


@pytest.fixture(scope="module", params=["direct", "sidecars"])
def mesh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningMesh]:
    mode: str = request.param
    ports = Ports(**{port.name: free_port() for port in fields(Ports)})
    state = tmp_path_factory.mktemp(f"mesh-{mode}")
    output = state / "launcher.out"
    flags = [f"--{p.name.replace('_', '-')}-port={getattr(ports, p.name)}" for p in fields(Ports)]
    flags.append(f"--mesh={mode}")
    if mode == "sidecars":
        flags.append(f"--sidecar-port-base={free_port_block()}")
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.devstack", "--state-dir", str(state), "run", *flags],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LASTMILE_IDENTITY_LOCKOUT_MAX_FAILURES": "100"},
        )
    running = RunningMesh(process, mode, ports, state, output)
    try:
        give_up = time.monotonic() + 180
        while b"Lastmile is running." not in output.read_bytes():
            assert process.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < give_up, output.read_text()[-3000:]
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sign_up(mesh: RunningMesh, email: str, role: str) -> str:
    password = "a long enough password 42"
    status, _ = call(mesh, "POST", "/v1/accounts", {
        "account": {"email": email, "displayName": email.split("@")[0], "role": role},
        "password": password,
    })  # fmt: skip
    assert status == 200
    status, session = call(mesh, "POST", "/v1/sessions", {"email": email, "password": password})
    assert status == 200
    token: str = session["accessToken"]
    return token


def delivery_request(weight: int = 1200) -> dict[str, Any]:
    return {
        "pickup": {"address": "Alexanderplatz 1, Berlin",
                   "point": {"latitude": 52.5219, "longitude": 13.4132},
                   "contact": {"name": "Shop", "phone": "+4930123456"}},
        "dropoff": {"address": "Torstrasse 100, Berlin",
                    "point": {"latitude": 52.5290, "longitude": 13.4010},
                    "contact": {"name": "Ann", "phone": "+4930654321"}},
        "parcel": {"size": "PARCEL_SIZE_SMALL", "weightGrams": weight},
        "serviceLevel": "SERVICE_LEVEL_STANDARD",
    }  # fmt: skip


def test_a_customer_registers_quotes_creates_lists_cancels_and_imports_over_rest(
    mesh: RunningMesh,
) -> None:
    token = sign_up(mesh, "e2e-customer@example.com", "ROLE_CUSTOMER")
    status, me = call(mesh, "GET", "/v1/me", token=token)
    assert (status, me["account"]["role"]) == (200, "ROLE_CUSTOMER")

    request = delivery_request()
    status, quoted = call(mesh, "POST", "/v1/quotes", {"terms": {
        "pickup": request["pickup"]["point"], "dropoff": request["dropoff"]["point"],
        "parcel": request["parcel"], "serviceLevel": request["serviceLevel"],
    }})  # fmt: skip
    assert status == 200
    quote = quoted["quote"]

    status, created = call(
        mesh, "POST", "/v1/deliveries", {**request, "quoteId": quote["quoteId"]},
        token=token, headers={"Idempotency-Key": "e2e-1"},
    )  # fmt: skip
    assert status == 200, created
    delivery = created["delivery"]
    assert delivery["status"] == "DELIVERY_STATUS_PENDING"
    assert delivery["price"] == quote["price"]

    status, again = call(
        mesh, "POST", "/v1/deliveries", {**request, "quoteId": quote["quoteId"]},
        token=token, headers={"Idempotency-Key": "e2e-1"},
    )  # fmt: skip
    assert again["delivery"]["deliveryId"] == delivery["deliveryId"]

    status, fetched = call(mesh, "GET", f"/v1/deliveries/{delivery['deliveryId']}", token=token)
    assert (status, fetched["delivery"]["deliveryId"]) == (200, delivery["deliveryId"])

    status, page = call(mesh, "GET", "/v1/deliveries?pageSize=10", token=token)
    assert [d["deliveryId"] for d in page["deliveries"]] == [delivery["deliveryId"]]

    status, cancelled = call(
        mesh, "POST", f"/v1/deliveries/{delivery['deliveryId']}:cancel",
        {"reason": "changed my mind"}, token=token,
    )  # fmt: skip
    assert (status, cancelled["delivery"]["status"]) == (200, "DELIVERY_STATUS_CANCELLED")

    items = [{"idempotencyKey": f"imp-{n}", "delivery": delivery_request(1000 + n)}
             for n in range(3)]  # fmt: skip
    items.append({"idempotencyKey": "imp-bad", "delivery": delivery_request(weight=0)})
    status, summary = call(mesh, "POST", "/v1/deliveries:import", items, token=token)
    assert status == 200, summary
    assert summary["itemCount"] == 4
    assert [created["index"] for created in summary["created"]] == [0, 1, 2]
    assert [error["index"] for error in summary["errors"]] == [3]


def sse_events(response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
    """Each `data:` line of a Server-Sent Events stream, parsed as JSON."""
    for raw in response:
        line = raw.decode().strip()
        if line.startswith("data:"):
            event: dict[str, Any] = json.loads(line.removeprefix("data:"))
            yield event


def test_a_watcher_sees_the_snapshot_then_the_cancellation_over_sse(mesh: RunningMesh) -> None:
    token = sign_up(mesh, "e2e-watcher@example.com", "ROLE_CUSTOMER")
    status, created = call(mesh, "POST", "/v1/deliveries", delivery_request(), token=token)
    assert status == 200, created
    delivery_id = created["delivery"]["deliveryId"]
    connection = http.client.HTTPConnection("127.0.0.1", mesh.ports.edge, timeout=30)
    connection.request(
        "GET", f"/v1/deliveries/{delivery_id}:watch",
        headers={"authorization": f"Bearer {token}", "accept": "text/event-stream"},
    )  # fmt: skip
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/event-stream")
    events = sse_events(response)
    first = next(events)
    assert first["snapshot"]["delivery"]["status"] == "DELIVERY_STATUS_PENDING"
    status, _ = call(
        mesh, "POST", f"/v1/deliveries/{delivery_id}:cancel", {"reason": "e2e"}, token=token
    )
    assert status == 200
    updates = [e for e in events if "heartbeat" not in e]
    assert updates[-1]["statusChange"]["status"] == "DELIVERY_STATUS_CANCELLED"
    connection.close()


def test_the_edge_rejects_anonymous_and_forged_calls(mesh: RunningMesh) -> None:
    status, _ = call(mesh, "GET", "/v1/deliveries")
    assert status == 401
    status, _ = call(
        mesh, "GET", "/v1/me",
        headers={"x-lastmile-account-id": "someone", "x-lastmile-role": "ops"},
    )  # fmt: skip
    assert status == 401


def test_a_role_that_may_not_call_a_method_gets_403_with_a_status_body(mesh: RunningMesh) -> None:
    courier = sign_up(mesh, "e2e-courier@example.com", "ROLE_COURIER")
    status, body = call(mesh, "POST", "/v1/deliveries", delivery_request(), token=courier)
    assert status == 403
    assert body["code"] == 7  # PERMISSION_DENIED, as a JSON google.rpc.Status


def test_bad_input_gets_400_naming_each_field(mesh: RunningMesh) -> None:
    token = sign_up(mesh, "e2e-merchant@example.com", "ROLE_MERCHANT")
    request = delivery_request(weight=-1)
    request["pickup"]["point"]["latitude"] = 123
    status, body = call(mesh, "POST", "/v1/deliveries", request, token=token)
    assert status == 400
    [bad_request] = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    fields = {violation["field"] for violation in bad_request["fieldViolations"]}
    assert fields == {"delivery.pickup.point.latitude", "delivery.parcel.weight_grams"}


async def test_with_sidecars_a_service_port_refuses_plaintext_and_the_app_is_loopback_only(
    mesh: RunningMesh,
) -> None:
    if mesh.mode != "sidecars":
        pytest.skip("only the sidecar mode puts mTLS on the service ports")
    check = health_pb2.HealthCheckRequest(service="lastmile.pricing.v1.PricingService")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.pricing}") as plaintext:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(plaintext).Check(check, timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    components = {c["name"]: c for c in mesh.status()["components"]}
    assert components["pricing-sidecar"]["address"].startswith(f"127.0.0.1:{mesh.ports.pricing}")
    assert components["pricing"]["address"] != f"127.0.0.1:{mesh.ports.pricing}"


def test_stopping_the_launcher_stops_every_component(mesh: RunningMesh) -> None:
    pids = [c["pid"] for c in mesh.status()["components"]]
    expected = {"postgres", "nats", "pricing", "identity", "orders", "edge"}
    if mesh.mode == "sidecars":
        expected |= {"pricing-sidecar", "identity-sidecar", "orders-sidecar"}
    assert {c["name"] for c in mesh.status()["components"]} >= expected
    mesh.process.send_signal(signal.SIGTERM)
    assert mesh.process.wait(timeout=90) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (mesh.state_dir / "run.json").exists()
