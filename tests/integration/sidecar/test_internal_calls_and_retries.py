"""orders' internal API (a scripted stand-in) behind orders' real sidecar, called by fleet
through fleet's sidecar: RBAC per method by SPIFFE id, and retries of UNAVAILABLE only for
methods the topology declares idempotent (calls counted where they land).

Every unary call of the real topology is idempotent, so fleet's sidecar here is rendered
from a topology that declares MarkDelivered not idempotent; orders' sidecar (RBAC) is real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from gateway.edge.settings import DESCRIPTOR_SET
from gateway.idempotency import IDEMPOTENT_METHODS
from gateway.proto_catalog import ProtoCatalog
from gateway.sidecar.placement import Placement
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import CALLS, MeshTopology
from lastmile.orders.v1 import orders_internal_pb2, orders_internal_pb2_grpc
from tests.integration.sidecar.conftest import mtls_channel
from tests.integration.sidecar.scripted_orders import ScriptedOrdersInternal, start_scripted_orders
from tests.integration.sidecar.sidecar_process import place, running_sidecar

pytestmark = pytest.mark.slow

NOT_IDEMPOTENT = "lastmile.orders.v1.OrdersInternalService/MarkDelivered"


@dataclass(frozen=True)
class InternalMesh:
    """The scripted orders, its sidecar, and fleet's sidecar in front of the caller."""

    orders_app: ScriptedOrdersInternal
    orders: Placement
    fleet: Placement


@pytest.fixture(scope="module")
async def internal_mesh(
    mesh: MeshTopology, certs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InternalMesh]:
    work = tmp_path_factory.mktemp("internal-mesh")
    catalog = ProtoCatalog.from_descriptor_set(DESCRIPTOR_SET.read_bytes())
    fleet_view = MeshTopology(catalog, CALLS, IDEMPOTENT_METHODS - {NOT_IDEMPOTENT})
    servicer = ScriptedOrdersInternal()
    server, app_port = await start_scripted_orders(servicer)
    try:
        orders = place("orders", mesh, certs_dir, app_port=app_port)
        fleet = place("fleet", fleet_view, certs_dir, app_port=0, callees={"orders": orders})
        async with running_sidecar(orders, mesh, work), running_sidecar(fleet, fleet_view, work):
            yield InternalMesh(servicer, orders, fleet)
    finally:
        await server.stop(grace=None)


@pytest.fixture
def orders_app(internal_mesh: InternalMesh) -> ScriptedOrdersInternal:
    internal_mesh.orders_app.calls.clear()
    internal_mesh.orders_app.failures.clear()
    return internal_mesh.orders_app


InternalStub = orders_internal_pb2_grpc.OrdersInternalServiceStub


def fleet_stub(
    internal_mesh: InternalMesh,
) -> tuple[grpc.aio.Channel, orders_internal_pb2_grpc.OrdersInternalServiceAsyncStub]:
    """A plaintext channel to fleet's outbound listener for orders, as fleet's app has."""
    port = internal_mesh.fleet.outbound_ports["orders"]
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return channel, InternalStub(channel)


PICKUP = orders_internal_pb2.MarkPickedUpRequest(
    delivery_id="d-1", courier_id="c-1", offer_id="o-1"
)
HANDOVER = orders_internal_pb2.MarkDeliveredRequest(
    delivery_id="d-1", courier_id="c-1", offer_id="o-1"
)
ASSIGNMENT = orders_internal_pb2.AssignCourierRequest(
    delivery_id="d-1", courier_id="c-1", offer_id="o-1"
)


async def test_fleet_marks_a_pickup_through_both_sidecars(
    internal_mesh: InternalMesh, orders_app: ScriptedOrdersInternal
) -> None:
    channel, stub = fleet_stub(internal_mesh)
    async with channel:
        reply = await stub.MarkPickedUp(PICKUP, timeout=5)
    assert reply.delivery.delivery_id == "d-1"
    assert orders_app.calls == {"MarkPickedUp": 1}


async def test_a_workload_without_a_grant_never_reaches_orders_internal_api(
    internal_mesh: InternalMesh, orders_app: ScriptedOrdersInternal, certs_dir: Path
) -> None:
    port = internal_mesh.orders.inbound_port
    async with mtls_channel(CertPaths(certs_dir / "tracking"), port) as tracking:
        stub = InternalStub(tracking)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.MarkPickedUp(PICKUP, timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert not orders_app.calls


async def test_dispatch_may_assign_a_courier_but_not_mark_a_pickup(
    internal_mesh: InternalMesh, orders_app: ScriptedOrdersInternal, certs_dir: Path
) -> None:
    port = internal_mesh.orders.inbound_port
    async with mtls_channel(CertPaths(certs_dir / "dispatch"), port) as dispatch:
        stub = InternalStub(dispatch)
        await stub.AssignCourier(ASSIGNMENT, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.MarkPickedUp(PICKUP, timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert orders_app.calls == {"AssignCourier": 1}


async def test_an_idempotent_call_answered_unavailable_once_is_retried_by_the_callers_sidecar(
    internal_mesh: InternalMesh, orders_app: ScriptedOrdersInternal
) -> None:
    orders_app.failures["MarkPickedUp"] = 1
    channel, stub = fleet_stub(internal_mesh)
    async with channel:
        reply = await stub.MarkPickedUp(PICKUP, timeout=5)
    assert reply.delivery.delivery_id == "d-1"
    assert orders_app.calls == {"MarkPickedUp": 2}


async def test_a_call_not_declared_idempotent_answered_unavailable_is_not_retried(
    internal_mesh: InternalMesh, orders_app: ScriptedOrdersInternal
) -> None:
    orders_app.failures["MarkDelivered"] = 1
    channel, stub = fleet_stub(internal_mesh)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.MarkDelivered(HANDOVER, timeout=5)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert orders_app.calls == {"MarkDelivered": 1}
