"""Replicas of the local mesh, without starting anything: how `--replicas` is read, where
each replica listens, what it is told about its upstreams, and the edge's and sidecars'
clusters that list every replica."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.edge import Address, EdgeSettings, UpstreamMtls, render_edge_config
from gateway.edge.clusters import JWKS_CLUSTER, cluster_name
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import MeshTopology
from services.devstack.components import SERVICES, Ports, Replicas, ServiceSpec, replica_name
from services.devstack.errors import DevstackError
from services.devstack.sidecars import LocalSidecars
from services.fleet.config import FleetSettings

SPECS = {spec.name: spec for spec in SERVICES}
EVERY_SERVICE_TWICE = Replicas.parse(",".join(f"{spec.name}=2" for spec in SERVICES))


def test_replicas_are_read_as_service_equals_count_and_default_to_one() -> None:
    replicas = Replicas.parse("orders=2, pricing=3")
    assert (replicas.count("orders"), replicas.count("pricing"), replicas.count("fleet")) == (
        2,
        3,
        1,
    )
    assert Replicas.parse("").counts == {}


@pytest.mark.parametrize(
    ("text", "named"),
    [("orders", "'orders'"), ("orders=two", "'orders=two'"), ("shipping=2", "'shipping'"),
     ("orders=0", "orders=0"), ("orders=11", "orders=11")],
)  # fmt: skip
def test_a_bad_replica_count_is_refused_naming_it(text: str, named: str) -> None:
    with pytest.raises(DevstackError, match=named):
        Replicas.parse(text)


def test_replica_k_is_named_after_its_service_and_listens_k_steps_above_its_ports() -> None:
    replicas, ports = Replicas.parse("orders=3"), Ports()
    assert [replica_name("orders", k) for k in range(3)] == ["orders", "orders-1", "orders-2"]
    assert replicas.grpc_ports(ports, "orders") == [50052, 50152, 50252]
    assert [replicas.admin_port(ports, "orders", k) for k in range(3)] == [9452, 9552, 9652]
    moved = Replicas.parse("orders=2", port_step=7)
    assert moved.grpc_ports(Ports(orders=6000), "orders") == [6000, 6007]


def test_callers_get_one_address_per_upstream_replica_as_one_balanced_target() -> None:
    assert Replicas().target(Ports(), "pricing") == "127.0.0.1:50051"
    target = Replicas.parse("pricing=2").target(Ports(), "pricing")
    assert target == "ipv4:127.0.0.1:50051,127.0.0.1:50151"


def test_a_fleet_replica_gets_its_own_ports_and_id_and_every_upstream_replica(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = SPECS["fleet"].env(Ports(), "postgresql://db/fleet", "nats://n:1",
                             replicas=EVERY_SERVICE_TWICE, replica=1)  # fmt: skip
    assert env["LASTMILE_FLEET_GRPC_PORT"] == "50153"
    assert env["LASTMILE_FLEET_ADMIN_PORT"] == "9553"
    assert env["LASTMILE_FLEET_REPLICA_ID"] == "fleet-1"
    assert env["LASTMILE_FLEET_ORDERS_TARGET"] == "ipv4:127.0.0.1:50052,127.0.0.1:50152"
    # A list fleet walks itself to find dispatch's leader, in the form its settings take.
    assert env["LASTMILE_FLEET_DISPATCH_TARGETS"] == "127.0.0.1:50054,127.0.0.1:50154"
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings = FleetSettings()
    assert settings.replica_id == "fleet-1"
    assert settings.dispatch_target_list == ["127.0.0.1:50054", "127.0.0.1:50154"]


def test_every_replica_of_a_service_gets_the_same_settings_but_its_ports_and_id() -> None:
    for spec in SERVICES:
        first, second = (
            spec.env(Ports(), "postgresql://db", "nats://n:1", replicas=EVERY_SERVICE_TWICE,
                     replica=k)
            for k in range(2)
        )  # fmt: skip
        differing = {
            key for key in first.keys() | second.keys() if first.get(key) != second.get(key)
        }
        own = {"GRPC_PORT", "ADMIN_PORT"} | ({"REPLICA_ID"} if spec.replica_id else set())
        assert differing == {f"LASTMILE_{spec.name.upper()}_{key}" for key in own}


def test_with_one_replica_the_settings_are_what_they_always_were() -> None:
    env = SPECS["fleet"].env(Ports(), None, "nats://n:1", replicas=Replicas.parse("orders=1"))
    assert env == SPECS["fleet"].env(Ports(), None, "nats://n:1")
    assert "LASTMILE_FLEET_REPLICA_ID" not in env


def test_dispatch_replicas_are_gated_on_the_server_since_only_the_leader_serves_matching() -> None:
    dispatch = SPECS["dispatch"]
    assert dispatch.health_gate(Replicas()) == "lastmile.dispatch.v1.DispatchInternalService"
    assert dispatch.health_gate(Replicas.parse("dispatch=2")) == ""
    pricing: ServiceSpec = SPECS["pricing"]
    assert pricing.health_gate(Replicas.parse("pricing=2")) == pricing.health_service


def endpoint_ports(cluster: Any) -> list[tuple[int, int | None]]:
    assignment = cluster["load_assignment"]
    [locality] = assignment["endpoints"]
    return [
        (entry["endpoint"]["address"]["socket_address"]["port_value"],
         entry["endpoint"].get("health_check_config", {}).get("port_value"))
        for entry in locality["lb_endpoints"]
    ]  # fmt: skip


def test_the_edge_clusters_of_a_replicated_service_list_every_replica(tmp_path: Path) -> None:
    docs = tmp_path / "docs.html"
    docs.write_text("<html></html>")
    upstreams = {"orders": (Address("127.0.0.1", 50052), Address("127.0.0.1", 50152))}
    settings = EdgeSettings(upstreams={**EdgeSettings().upstreams, **upstreams},
                            jwks_replicas=(Address("127.0.0.1", 9550),))  # fmt: skip
    config = render_edge_config(settings, docs_page=docs)
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert endpoint_ports(clusters[cluster_name("orders")]) == [(50052, None), (50152, None)]
    assert endpoint_ports(clusters[cluster_name("pricing")]) == [(50051, None)]
    assert "lb_policy" not in clusters[cluster_name("orders")]  # Envoy's default: ROUND_ROBIN
    assert clusters[cluster_name("orders")]["health_checks"]
    # identity's replicas serve the same keys: the edge fetches them from either.
    assert endpoint_ports(clusters[JWKS_CLUSTER]) == [(9450, None), (9550, None)]


def test_behind_sidecars_the_edge_checks_each_replica_on_its_own_health_port(
    tmp_path: Path,
) -> None:
    sidecars = LocalSidecars(tmp_path, Ports(), replicas=Replicas.parse("orders=2"))
    mtls = sidecars.edge_mtls()
    assert mtls.health_ports["orders"] == (16221, 16821)
    assert mtls.health_ports["pricing"] == 16121
    with pytest.raises(ValueError, match="orders needs one health port per address"):
        EdgeSettings(
            upstreams={**EdgeSettings().upstreams, "orders": (Address("127.0.0.1", 1),)},
            upstream_mtls=UpstreamMtls(CertPaths(tmp_path), mtls.health_ports),
        )


def test_each_replica_has_its_own_sidecar_whose_callee_cluster_lists_every_callee_replica(
    tmp_path: Path,
) -> None:
    sidecars = LocalSidecars(tmp_path, Ports(), replicas=EVERY_SERVICE_TWICE)
    orders_1 = sidecars.placement("orders", 1)
    assert (orders_1.inbound_port, orders_1.app_port) == (50152, 16801)
    clusters = {
        c["name"]: c for c in _rendered(sidecars, "orders", 1)["static_resources"]["clusters"]
    }
    assert endpoint_ports(clusters["outbound_pricing"]) == [(50051, 16121), (50151, 16721)]
    assert clusters["outbound_pricing"]["lb_policy"] == "ROUND_ROBIN"


def test_no_two_replicas_or_sidecars_share_a_port(tmp_path: Path) -> None:
    sidecars = LocalSidecars(tmp_path, Ports(), replicas=EVERY_SERVICE_TWICE)
    mesh = MeshTopology.load()
    ports = [
        port
        for spec in SERVICES
        for k in range(2)
        for port in [*sidecars.layout.ports_of(spec.name, mesh, k).values(),
                     EVERY_SERVICE_TWICE.admin_port(Ports(), spec.name, k)]
    ]  # fmt: skip
    assert len(ports) == len(set(ports))


def _rendered(sidecars: LocalSidecars, service: str, replica: int) -> Any:
    config: Any = json.loads(sidecars.write_config(service, replica).read_text())
    return config
