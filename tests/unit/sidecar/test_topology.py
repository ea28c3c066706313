"""The mesh topology resolved against the contract: methods, streams, idempotency, grants."""

from __future__ import annotations

import pytest

from gateway.edge.settings import DESCRIPTOR_SET
from gateway.idempotency import IDEMPOTENT_METHODS
from gateway.proto_catalog import ProtoCatalog
from gateway.sidecar.topology import (
    EDGE,
    SERVICES,
    Call,
    MeshTopology,
    app_port,
    outbound_port,
)

LINK = "/lastmile.dispatch.v1.DispatchInternalService/Link"


@pytest.fixture(scope="module")
def mesh() -> MeshTopology:
    return MeshTopology.load()


def test_method_lists_and_streaming_come_from_the_descriptor_set(mesh: MeshTopology) -> None:
    (link,) = mesh.methods_called("fleet", "dispatch")
    assert (link.path, link.streaming, link.idempotent) == (LINK, True, False)
    public_orders = {m.name: m for m in mesh.methods_called(EDGE, "orders")}
    assert public_orders["ImportDeliveries"].streaming
    assert not public_orders["GetDelivery"].streaming
    assert {m.name for m in mesh.methods_called("tracking", "orders")} == {"GetDelivery"}


def test_only_the_declared_unary_methods_are_idempotent(mesh: MeshTopology) -> None:
    declared = {
        m.path.lstrip("/") for s in SERVICES for m in mesh.served_methods(s) if m.idempotent
    }
    assert declared == IDEMPOTENT_METHODS
    assert not any(m.idempotent and m.streaming for s in SERVICES for m in mesh.served_methods(s))


def test_each_caller_has_an_outbound_listener_per_callee_only(mesh: MeshTopology) -> None:
    assert mesh.callees("orders") == ("pricing",)
    assert set(mesh.callees("fleet")) == {"orders", "dispatch"}
    assert mesh.callees("pricing") == ()
    assert set(mesh.callees(EDGE)) == set(SERVICES)


def test_grants_name_the_callers_of_each_service_or_method(mesh: MeshTopology) -> None:
    grants = {grant.name: grant.callers for grant in mesh.grants("orders")}
    assert grants == {
        "lastmile.orders.v1.OrdersService": (EDGE,),
        "lastmile.orders.v1.OrdersService/GetDelivery": ("tracking",),
        "lastmile.orders.v1.OrdersInternalService/MarkPickedUp": ("fleet",),
        "lastmile.orders.v1.OrdersInternalService/MarkDelivered": ("fleet",),
        "lastmile.orders.v1.OrdersInternalService/AssignCourier": ("dispatch",),
    }
    fleet = {grant.name: grant.callers for grant in mesh.grants("fleet")}
    assert fleet["lastmile.fleet.v1.FleetInternalService/GetCourier"] == ("dispatch", "tracking")


def test_health_checks_use_the_first_service_a_caller_calls(mesh: MeshTopology) -> None:
    assert (
        mesh.health_service("fleet", "dispatch") == "lastmile.dispatch.v1.DispatchInternalService"
    )
    assert mesh.health_service(EDGE, "dispatch") == "lastmile.dispatch.v1.DispatchService"


def test_a_call_to_a_service_or_method_the_contract_lacks_is_refused() -> None:
    catalog = ProtoCatalog.from_descriptor_set(DESCRIPTOR_SET.read_bytes())
    pricing = "lastmile.pricing.v1.PricingService"
    with pytest.raises(ValueError, match="no proto defines"):
        MeshTopology(catalog, (Call("orders", "pricing", "lastmile.pricing.v1.Nope"),))
    with pytest.raises(ValueError, match="no such methods"):
        MeshTopology(catalog, (Call("orders", "pricing", pricing, ("Nope",)),))


def test_the_pod_port_convention() -> None:
    assert app_port("pricing") == 51051
    assert outbound_port("pricing") == 15051
    assert outbound_port("dispatch") == 15054
