"""End to end: the same launcher `make run` uses starts the whole mesh; a customer uses
it over REST through the real Envoy edge; the launcher stops it and nothing is left.

Every test runs against both mesh modes: services calling each other directly, and through
Envoy sidecars with mTLS and RBAC (`make run MESH=sidecars`, the Kubernetes topology)."""

from __future__ import annotations

import os
import signal

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.components import SERVICES
from tests.e2e.conftest import RunningMesh
from tests.e2e.rest import call, delivery_request, open_watch, point, sign_up, sse_events

pytestmark = pytest.mark.slow


def test_a_customer_registers_quotes_creates_lists_cancels_and_imports_over_rest(
    mesh: RunningMesh,
) -> None:
    token = sign_up(mesh.base, "e2e-customer@example.com", "ROLE_CUSTOMER")
    status, me = call(mesh.base, "GET", "/v1/me", token=token)
    assert (status, me["account"]["role"]) == (200, "ROLE_CUSTOMER")

    request = delivery_request()
    status, quoted = call(mesh.base, "POST", "/v1/quotes", {"terms": {
        "pickup": request["pickup"]["point"], "dropoff": request["dropoff"]["point"],
        "parcel": request["parcel"], "serviceLevel": request["serviceLevel"],
    }})  # fmt: skip
    assert status == 200
    quote = quoted["quote"]

    status, created = call(
        mesh.base, "POST", "/v1/deliveries", {**request, "quoteId": quote["quoteId"]},
        token=token, headers={"Idempotency-Key": "e2e-1"},
    )  # fmt: skip
    assert status == 200, created
    delivery = created["delivery"]
    assert delivery["status"] == "DELIVERY_STATUS_PENDING"
    assert delivery["price"] == quote["price"]

    status, again = call(
        mesh.base, "POST", "/v1/deliveries", {**request, "quoteId": quote["quoteId"]},
        token=token, headers={"Idempotency-Key": "e2e-1"},
    )  # fmt: skip
    assert again["delivery"]["deliveryId"] == delivery["deliveryId"]

    path = f"/v1/deliveries/{delivery['deliveryId']}"
    status, fetched = call(mesh.base, "GET", path, token=token)
    assert (status, fetched["delivery"]["deliveryId"]) == (200, delivery["deliveryId"])

    status, page = call(mesh.base, "GET", "/v1/deliveries?pageSize=10", token=token)
    assert [d["deliveryId"] for d in page["deliveries"]] == [delivery["deliveryId"]]

    status, cancelled = call(
        mesh.base, "POST", f"/v1/deliveries/{delivery['deliveryId']}:cancel",
        {"reason": "changed my mind"}, token=token,
    )  # fmt: skip
    assert (status, cancelled["delivery"]["status"]) == (200, "DELIVERY_STATUS_CANCELLED")

    items = [{"idempotencyKey": f"imp-{n}", "delivery": delivery_request(1000 + n)}
             for n in range(3)]  # fmt: skip
    items.append({"idempotencyKey": "imp-bad", "delivery": delivery_request(weight=0)})
    status, summary = call(mesh.base, "POST", "/v1/deliveries:import", items, token=token)
    assert status == 200, summary
    assert summary["itemCount"] == 4
    assert [created["index"] for created in summary["created"]] == [0, 1, 2]
    assert [error["index"] for error in summary["errors"]] == [3]


def test_a_watcher_sees_the_snapshot_then_the_cancellation_over_sse(mesh: RunningMesh) -> None:
    token = sign_up(mesh.base, "e2e-watcher@example.com", "ROLE_CUSTOMER")
    status, created = call(mesh.base, "POST", "/v1/deliveries", delivery_request(), token=token)
    assert status == 200, created
    delivery_id = created["delivery"]["deliveryId"]
    connection = open_watch(mesh.ports.edge, delivery_id, token)
    try:
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("content-type", "").startswith("text/event-stream")
        events = sse_events(response)
        first = next(events)
        assert first["snapshot"]["delivery"]["status"] == "DELIVERY_STATUS_PENDING"
        cancel = f"/v1/deliveries/{delivery_id}:cancel"
        status, _ = call(mesh.base, "POST", cancel, {"reason": "e2e"}, token=token)
        assert status == 200
        updates = [e for e in events if "heartbeat" not in e]
        assert updates[-1]["statusChange"]["status"] == "DELIVERY_STATUS_CANCELLED"
    finally:
        connection.close()


def test_the_edge_rejects_anonymous_and_forged_calls(mesh: RunningMesh) -> None:
    status, _ = call(mesh.base, "GET", "/v1/deliveries")
    assert status == 401
    status, _ = call(
        mesh.base, "GET", "/v1/me",
        headers={"x-lastmile-account-id": "someone", "x-lastmile-role": "ops"},
    )  # fmt: skip
    assert status == 401


def test_a_role_that_may_not_call_a_method_gets_403_with_a_status_body(mesh: RunningMesh) -> None:
    courier = sign_up(mesh.base, "e2e-courier@example.com", "ROLE_COURIER")
    status, body = call(mesh.base, "POST", "/v1/deliveries", delivery_request(), token=courier)
    assert status == 403
    assert body["code"] == 7  # PERMISSION_DENIED, as a JSON google.rpc.Status


def test_bad_input_gets_400_naming_each_field(mesh: RunningMesh) -> None:
    token = sign_up(mesh.base, "e2e-merchant@example.com", "ROLE_MERCHANT")
    request = delivery_request(weight=-1)
    request["pickup"]["point"]["latitude"] = 123
    status, body = call(mesh.base, "POST", "/v1/deliveries", request, token=token)
    assert status == 400
    [bad_request] = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    fields = {violation["field"] for violation in bad_request["fieldViolations"]}
    assert fields == {"delivery.pickup.point.latitude", "delivery.parcel.weight_grams"}


def test_a_pickup_outside_every_region_gets_400_out_of_service_area(mesh: RunningMesh) -> None:
    token = sign_up(mesh.base, "e2e-vienna@example.com", "ROLE_CUSTOMER")
    vienna = delivery_request(pickup=point(48.2082, 16.3738), dropoff=point(48.21, 16.38))
    status, body = call(mesh.base, "POST", "/v1/deliveries", vienna, token=token)
    assert status == 400, body
    [info] = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    [bad_request] = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    assert info["reason"] == "OUT_OF_SERVICE_AREA"
    assert [v["field"] for v in bad_request["fieldViolations"]] == ["delivery.pickup.point"]


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
    expected = {"postgres", "nats", "edge", *(spec.name for spec in SERVICES)}
    if mesh.mode == "sidecars":
        expected |= {f"{spec.name}-sidecar" for spec in SERVICES}
    assert {c["name"] for c in mesh.status()["components"]} == expected
    mesh.process.send_signal(signal.SIGTERM)
    assert mesh.process.wait(timeout=90) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (mesh.state_dir / "run.json").exists()
