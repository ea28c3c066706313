"""The sidecar configs: the real Envoy accepts every rendered one (both variants, every
service) and the Kubernetes edge's; the committed Kubernetes files are what the renderer
writes; and the properties the mesh relies on hold in what is rendered."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.edge.kubernetes import K8S_EDGE_DIR
from gateway.edge.render import ENVOY
from gateway.sidecar.certs import ensure_workload_certs
from gateway.sidecar.kubernetes import (
    CONFIG_FILE,
    drifted_sidecars,
    render_k8s_sidecar,
    render_k8s_sidecar_files,
)
from gateway.sidecar.placement import (
    KUBERNETES_SIDECAR_DIR,
    LocalLayout,
    kubernetes_placement,
    local_placement,
)
from gateway.sidecar.render import render_sidecar_config
from gateway.sidecar.tls import (
    KUBERNETES_CERTS,
    SDS_CERTIFICATE_FILE,
    SDS_TRUSTED_CA_FILE,
    spiffe_id,
)
from gateway.sidecar.topology import EDGE, SERVICES, MeshTopology

Config = dict[str, Any]

PUBLIC = {
    "identity": "lastmile.identity.v1.IdentityService",
    "pricing": "lastmile.pricing.v1.PricingService",
    "orders": "lastmile.orders.v1.OrdersService",
    "fleet": "lastmile.fleet.v1.CourierSessionService",
    "dispatch": "lastmile.dispatch.v1.DispatchService",
    "tracking": "lastmile.tracking.v1.TrackingService",
}
# The RBAC table of the mesh design, written out by hand: (callee, RPC path or service
# prefix) -> the workloads allowed. Anything absent is denied.
EXPECTED_GRANTS = {
    **{(callee, f"/{service}/"): {EDGE} for callee, service in PUBLIC.items()},
    ("pricing", "/lastmile.pricing.v1.PricingService/CreateQuote"): {"orders"},
    ("pricing", "/lastmile.pricing.v1.PricingInternalService/VerifyQuote"): {"orders"},
    ("pricing", "/lastmile.pricing.v1.PricingInternalService/ListQuoteKeys"): {"orders"},
    ("orders", "/lastmile.orders.v1.OrdersService/GetDelivery"): {"tracking"},
    ("orders", "/lastmile.orders.v1.OrdersInternalService/MarkPickedUp"): {"fleet"},
    ("orders", "/lastmile.orders.v1.OrdersInternalService/MarkDelivered"): {"fleet"},
    ("orders", "/lastmile.orders.v1.OrdersInternalService/AssignCourier"): {"dispatch"},
    ("dispatch", "/lastmile.dispatch.v1.DispatchInternalService/Link"): {"fleet"},
    ("fleet", "/lastmile.fleet.v1.FleetInternalService/GetCourier"): {"tracking", "dispatch"},
}


@pytest.fixture(scope="module")
def mesh() -> MeshTopology:
    return MeshTopology.load()


@pytest.fixture(scope="module")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    ensure_workload_certs(directory, [*SERVICES, EDGE])
    return directory


def rendered(mesh: MeshTopology, certs_dir: Path) -> Iterator[tuple[str, Config]]:
    layout = LocalLayout({})
    for service in SERVICES:
        yield (
            f"{service} (kubernetes)",
            render_sidecar_config(kubernetes_placement(service, mesh), mesh),
        )
        yield (
            f"{service} (local)",
            render_sidecar_config(local_placement(service, mesh, layout, certs_dir), mesh),
        )


def validate(config_text: str, path: Path) -> None:
    path.write_text(config_text)
    result = subprocess.run(
        [str(ENVOY), "--mode", "validate", "--config-path", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


@pytest.mark.slow
def test_envoy_accepts_every_sidecar_config_in_both_variants(
    mesh: MeshTopology, certs_dir: Path, tmp_path: Path
) -> None:
    for service in SERVICES:
        local = render_sidecar_config(
            local_placement(service, mesh, LocalLayout({}), certs_dir), mesh
        )
        validate(json.dumps(local), tmp_path / f"{service}-local.json")
        # As committed for Kubernetes (bootstrap and SDS files), with the ConfigMap's and the
        # Secret's mount points moved to a scratch directory and the test certificates.
        mounted = tmp_path / f"{service}-kubernetes"
        mounted.mkdir()
        moves = {
            str(KUBERNETES_SIDECAR_DIR): str(mounted),
            str(KUBERNETES_CERTS.directory): str(certs_dir / service),
        }
        for name, text in render_k8s_sidecar_files(service, mesh).items():
            (mounted / name).write_text(moved(text, moves))
        validate((mounted / CONFIG_FILE).read_text(), mounted / CONFIG_FILE)


@pytest.mark.slow
def test_envoy_accepts_the_kubernetes_edge_config(certs_dir: Path, tmp_path: Path) -> None:
    moves = {
        # The SDS files name the Secret's mount: relocated copies, in the scratch directory.
        f"/etc/lastmile/edge/{SDS_CERTIFICATE_FILE}": str(tmp_path / SDS_CERTIFICATE_FILE),
        f"/etc/lastmile/edge/{SDS_TRUSTED_CA_FILE}": str(tmp_path / SDS_TRUSTED_CA_FILE),
        "/etc/lastmile/edge": str(K8S_EDGE_DIR),
        "/etc/lastmile/descriptors": str(K8S_EDGE_DIR),
        str(KUBERNETES_CERTS.directory): str(certs_dir / EDGE),
    }
    for name in (SDS_CERTIFICATE_FILE, SDS_TRUSTED_CA_FILE):
        (tmp_path / name).write_text(moved((K8S_EDGE_DIR / name).read_text(), moves))
    validate(moved((K8S_EDGE_DIR / "edge.json").read_text(), moves), tmp_path / "edge.json")


def moved(text: str, moves: dict[str, str]) -> str:
    """`text` with every path under a key of `moves` (in order) under its value instead."""
    for mounted, local in moves.items():
        text = re.sub(rf"(?<![\\w/.-]){re.escape(mounted)}(?=[/\"\n]|$)", local, text)
    return text


def test_the_committed_kubernetes_sidecars_are_what_the_renderer_writes() -> None:
    assert drifted_sidecars() == [], "run `make k8s-sidecars` and commit the result"


def test_every_service_has_a_kubernetes_sidecar_with_the_pod_port_convention(
    mesh: MeshTopology,
) -> None:
    for number, service in enumerate(SERVICES):
        config = yaml.safe_load(render_k8s_sidecar(service, mesh))
        ports = listener_addresses(config)
        assert ports["inbound"] == ("0.0.0.0", 50050 + number)
        assert ports["health"] == ("0.0.0.0", 15021)
        assert ports["stats"] == ("0.0.0.0", 15090)
        app = cluster(config, "local_app")["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert app[0]["endpoint"]["address"]["socket_address"]["port_value"] == 51050 + number
        for callee in mesh.callees(service):
            offset = SERVICES.index(callee)
            assert ports[f"outbound_{callee}"] == ("127.0.0.1", 15050 + offset)


def test_the_admin_interface_and_outbound_listeners_bind_to_loopback_only(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    for name, config in rendered(mesh, certs_dir):
        assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1", name
        for listener, (host, _) in listener_addresses(config).items():
            if listener.startswith("outbound_"):
                assert host == "127.0.0.1", (name, listener)


def test_streaming_routes_have_no_timeout_of_any_kind(mesh: MeshTopology, certs_dir: Path) -> None:
    streams = {m.path for s in SERVICES for m in mesh.served_methods(s) if m.streaming}
    assert "/lastmile.dispatch.v1.DispatchInternalService/Link" in streams
    seen = set()
    for name, config in rendered(mesh, certs_dir):
        for route in routes(config):
            if route["match"].get("path") in streams:
                seen.add(route["match"]["path"])
                action = route["route"]
                assert action["timeout"] == "0s", (name, route["name"])
                assert action["idle_timeout"] == "0s", (name, route["name"])
                assert "max_stream_duration" not in action, (name, route["name"])
                assert "retry_policy" not in action, (name, route["name"])
        for manager in connection_managers(config):
            assert "max_stream_duration" not in manager.get("common_http_protocol_options", {})
            assert manager["http2_protocol_options"].get("connection_keepalive") or (
                manager["stat_prefix"] != "inbound"
            )
    assert "/lastmile.dispatch.v1.DispatchInternalService/Link" in seen


def test_unavailable_is_retried_only_on_idempotent_unary_routes(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    idempotent = {m.path for s in SERVICES for m in mesh.served_methods(s) if m.idempotent}
    retried = set()
    for name, config in rendered(mesh, certs_dir):
        for route in routes(config):
            retry_on = route.get("route", {}).get("retry_policy", {}).get("retry_on", "")
            if "unavailable" in retry_on.split(","):
                assert route["match"].get("path") in idempotent, (name, route["name"])
                assert route["route"]["retry_policy"]["per_try_timeout"], (name, route["name"])
                retried.add(route["match"]["path"])
            else:
                assert "reset" not in retry_on.split(","), (name, route["name"])
    assert retried == idempotent


def test_rbac_principals_are_exactly_the_mesh_design(mesh: MeshTopology, certs_dir: Path) -> None:
    for service in SERVICES:
        config = render_sidecar_config(kubernetes_placement(service, mesh), mesh)
        (inbound,) = [m for m in connection_managers(config) if m["stat_prefix"] == "inbound"]
        (rbac,) = [f for f in inbound["http_filters"] if f["name"] == "envoy.filters.http.rbac"]
        assert rbac["typed_config"]["rules"]["action"] == "ALLOW"
        granted = {}
        for policy in rbac["typed_config"]["rules"]["policies"].values():
            (permission,) = policy["permissions"]
            path = permission["url_path"]["path"]
            callers = {p["authenticated"]["principal_name"]["exact"] for p in policy["principals"]}
            granted[(service, path.get("exact") or path["prefix"])] = callers
        expected = {
            key: {spiffe_id(caller) for caller in callers}
            for key, callers in EXPECTED_GRANTS.items()
            if key[0] == service
        }
        assert granted == expected, service


def test_the_inbound_listener_requires_a_client_certificate_of_the_trust_domain(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    for name, config in rendered(mesh, certs_dir):
        listeners = config["static_resources"]["listeners"]
        (inbound,) = [listener for listener in listeners if listener["name"] == "inbound"]
        tls = inbound["filter_chains"][0]["transport_socket"]["typed_config"]
        assert tls["require_client_certificate"] is True, name
        sans = accepted_sans(tls["common_tls_context"])
        assert sans == [{"san_type": "URI", "matcher": {"prefix": "spiffe://lastmile.dev/"}}]


def test_every_callee_cluster_verifies_the_callees_spiffe_id_and_is_health_checked(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    for name, config in rendered(mesh, certs_dir):
        service = name.split()[0]
        for callee in mesh.callees(service):
            upstream = cluster(config, f"outbound_{callee}")
            tls = upstream["transport_socket"]["typed_config"]["common_tls_context"]
            sans = accepted_sans(tls)
            assert sans == [{"san_type": "URI", "matcher": {"exact": spiffe_id(callee)}}]
            (check,) = upstream["health_checks"]
            assert check["grpc_health_check"]["service_name"] == mesh.health_service(
                service, callee
            )
            assert upstream["outlier_detection"]["consecutive_gateway_failure"] > 0
            assert upstream["circuit_breakers"]["thresholds"][0]["max_retries"] > 0
            if name.endswith("(kubernetes)"):
                assert upstream["type"] == "STRICT_DNS", name
                assert upstream["lb_policy"] == "ROUND_ROBIN", name


def test_the_kubernetes_edge_calls_every_service_over_mtls_to_its_spiffe_id() -> None:
    config = json.loads((K8S_EDGE_DIR / "edge.json").read_text())
    for service in SERVICES:
        upstream = cluster(config, f"lastmile_{service}")
        tls = upstream["transport_socket"]["typed_config"]["common_tls_context"]
        assert accepted_sans(tls) == [{"san_type": "URI", "matcher": {"exact": spiffe_id(service)}}]
        assert_reads_the_mesh_secret_through_sds(tls, "/etc/lastmile/edge", K8S_EDGE_DIR)


def test_kubernetes_sidecars_read_the_mesh_secret_through_sds_and_local_ones_from_files(
    mesh: MeshTopology, certs_dir: Path, tmp_path: Path
) -> None:
    """cert-manager renews the Secret under a running pod; static `tls_certificates` are read
    once, so Kubernetes needs SDS. The local mesh never rotates while running: static files."""
    for name, config in rendered(mesh, certs_dir):
        service = name.split()[0]
        committed = tmp_path / service
        if name.endswith("(kubernetes)"):
            committed.mkdir()
            for file, text in render_k8s_sidecar_files(service, mesh).items():
                (committed / file).write_text(text)
        for tls in common_tls_contexts(config):
            if name.endswith("(kubernetes)"):
                assert_reads_the_mesh_secret_through_sds(
                    tls, str(KUBERNETES_SIDECAR_DIR), committed
                )
            else:
                assert "tls_certificate_sds_secret_configs" not in tls, name
                (pair,) = tls["tls_certificates"]
                assert pair["certificate_chain"]["filename"] == str(
                    certs_dir / service / "tls.crt"
                ), name


def assert_reads_the_mesh_secret_through_sds(tls: Config, mount: str, files: Path) -> None:
    """Key pair and trusted CA both from SDS resource files in the ConfigMap mounted at
    `mount` (whose rendered files are in `files`), each watching the Secret's mount."""
    watched = {"path": str(KUBERNETES_CERTS.directory)}
    assert "tls_certificates" not in tls
    assert "validation_context" not in tls
    (certificate,) = tls["tls_certificate_sds_secret_configs"]
    trusted = tls["combined_validation_context"]["validation_context_sds_secret_config"]
    secrets = {}
    for reference in (certificate, trusted):
        source = reference["sds_config"]["path_config_source"]
        assert source["watched_directory"] == watched
        assert Path(source["path"]).parent == Path(mount)
        (resource,) = yaml.safe_load((files / Path(source["path"]).name).read_text())["resources"]
        assert resource["name"] == reference["name"]
        secrets[reference["name"]] = resource
    key_pair = secrets[certificate["name"]]["tls_certificate"]
    assert key_pair["certificate_chain"]["filename"] == str(KUBERNETES_CERTS.certificate)
    assert key_pair["private_key"]["filename"] == str(KUBERNETES_CERTS.private_key)
    assert key_pair["watched_directory"] == watched
    validation = secrets[trusted["name"]]["validation_context"]
    assert validation["trusted_ca"]["filename"] == str(KUBERNETES_CERTS.ca)
    assert validation["watched_directory"] == watched


def test_local_placements_give_every_listener_its_own_port(mesh: MeshTopology) -> None:
    layout = LocalLayout({})
    ports = [port for s in SERVICES for port in layout.ports_of(s, mesh).values()]
    assert len(ports) == len(set(ports))


def listener_addresses(config: Config) -> dict[str, tuple[str, int]]:
    return {
        listener["name"]: (
            listener["address"]["socket_address"]["address"],
            listener["address"]["socket_address"]["port_value"],
        )
        for listener in config["static_resources"]["listeners"]
    }


def connection_managers(config: Config) -> Iterator[Config]:
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                yield network_filter["typed_config"]


def routes(config: Config) -> Iterator[Config]:
    for manager in connection_managers(config):
        for host in manager["route_config"]["virtual_hosts"]:
            yield from host["routes"]


def common_tls_contexts(config: Config) -> Iterator[Config]:
    """Every mTLS context of a sidecar: the inbound listener's and the callee clusters'."""
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            if "transport_socket" in chain:
                yield chain["transport_socket"]["typed_config"]["common_tls_context"]
    for upstream in config["static_resources"]["clusters"]:
        if "transport_socket" in upstream:
            yield upstream["transport_socket"]["typed_config"]["common_tls_context"]


def accepted_sans(tls: Config) -> list[Config]:
    """The peer SANs a TLS context accepts, whether its CA is static or from SDS."""
    validation = (
        tls.get("validation_context")
        or (tls["combined_validation_context"]["default_validation_context"])
    )
    sans: list[Config] = validation["match_typed_subject_alt_names"]
    return sans


def cluster(config: Config, name: str) -> Config:
    found: list[Config] = [c for c in config["static_resources"]["clusters"] if c["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_every_unary_call_between_services_is_retried_after_a_reset_on_another_replica(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    """Every unary method one service calls on another is idempotent by design, so a call
    cut by a replica that died is sent again, to another replica."""
    for name, config in rendered(mesh, certs_dir):
        service = name.split()[0]
        for callee in mesh.callees(service):
            for method in mesh.methods_called(service, callee):
                if method.streaming:
                    continue
                assert method.idempotent, method.path
                [route] = [r for r in routes(config) if r["match"].get("path") == method.path]
                policy = route["route"]["retry_policy"]
                assert "reset" in policy["retry_on"].split(","), (name, method.path)
                assert policy["retry_host_predicate"][0]["name"].endswith("previous_hosts")


def test_only_a_sidecars_dispatch_cluster_never_routes_to_a_standby(
    mesh: MeshTopology, certs_dir: Path
) -> None:
    seen = set()
    for name, config in rendered(mesh, certs_dir):
        service = name.split()[0]
        for callee in mesh.callees(service):
            upstream = cluster(config, f"outbound_{callee}")
            if callee == "dispatch":
                seen.add(service)
                assert upstream["common_lb_config"] == {"healthy_panic_threshold": {"value": 0}}
            else:
                assert "common_lb_config" not in upstream, (name, callee)
    assert seen == {"fleet"}
