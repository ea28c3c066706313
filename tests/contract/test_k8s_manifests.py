"""The Kubernetes manifests: every overlay renders with the real kustomize, every built-in
resource passes the Kubernetes 1.37 schema strictly, and the properties that keep the mesh
safe and available hold in what is rendered, not in what was meant.

kubernetes-validate has no schema for operator CRDs (CloudNativePG Cluster, Prometheus
PodMonitor/ServiceMonitor); those are skipped by name and checked structurally instead."""

from __future__ import annotations

import base64
import filecmp
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.edge.kubernetes import K8S_EDGE_DIR, MOUNTED_CONFIG_DIR, render_k8s_edge_files
from gateway.edge.settings import ROOT
from gateway.sidecar.kubernetes import (
    DRAIN_SECONDS,
    PRESTOP_COMMAND,
    SIDECAR_ARGS,
    SIDECAR_COMMAND,
    render_k8s_sidecar_files,
)
from gateway.sidecar.placement import KUBERNETES_SIDECAR_DIR
from gateway.sidecar.topology import (
    CALLS,
    CANONICAL_PORTS,
    EDGE,
    HEALTH_PORT,
    STATS_PORT,
    MeshTopology,
)
from services.runtime.readiness import LIVENESS
from services.shared_kernel.regions import SHIPPED_REGIONS_FILE, Regions
from tests.contract.real_envoy import http_get, running_envoy

Manifest = dict[str, Any]

KUBECTL = Path(sys.executable).parent / "kubectl"
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
KUBERNETES_VERSION = "1.37.0"
# Operator CRDs: no upstream schema, checked structurally below.
CRD_GROUPS = {"postgresql.cnpg.io", "monitoring.coreos.com", "cert-manager.io"}
# The health name each app's startup and readiness probes ask for. dispatch's standby reports
# NOT_SERVING for its services by design, so its pods are probed on the server's status.
APPS = {
    "identity": "lastmile.identity.v1.IdentityService",
    "pricing": "lastmile.pricing.v1.PricingService",
    "orders": "lastmile.orders.v1.OrdersService",
    "fleet": "lastmile.fleet.v1.CourierSessionService",
    "dispatch": "",
    "tracking": "lastmile.tracking.v1.TrackingService",
}
AUTOSCALED_APPS = {"pricing", "orders", "fleet", "tracking"}
# Active/standby: exactly two replicas in prod, never autoscaled.
ACTIVE_STANDBY_APPS = {"dispatch"}
DATABASES = {
    "identity": "identity-db",
    "orders": "orders-db",
    "fleet": "fleet-db",
    "dispatch": "dispatch-db",
}
BROKER_USERS = {"orders", "fleet", "dispatch", "tracking"}
SIDECAR_IMAGE = "envoyproxy/envoy:v1.40.0"
MESH_TLS_DIR = "/etc/lastmile/tls"
# How long the sidecar's preStop waits after draining, on top of the app's own drain.
SIDECAR_DRAIN_SECONDS = DRAIN_SECONDS


def render(overlay: str) -> list[Manifest]:
    rendered = subprocess.run(
        [str(KUBECTL), "kustomize", str(OVERLAYS / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


@pytest.fixture(scope="module", params=["dev", "prod"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    """Each overlay's manifests in turn: the tests that take it hold for dev and prod."""
    overlay: str = request.param
    return render(overlay)


@pytest.fixture(scope="module")
def dev() -> list[Manifest]:
    return render("dev")


@pytest.fixture(scope="module")
def prod() -> list[Manifest]:
    return render("prod")


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def generated(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """A generator's output, whose name kustomize suffixes with a content hash."""
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"].rsplit("-", 1)[0] == name]
    assert len(found) == 1, f"expected one generated {kind}/{name}, found {len(found)}"
    return found[0]


def group(manifest: Manifest) -> str:
    api_version: str = manifest["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def workloads(manifests: list[Manifest]) -> Iterator[Manifest]:
    yield from (m for m in manifests if m["kind"] in ("Deployment", "StatefulSet"))


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def app_container(manifests: list[Manifest], app: str) -> Manifest:
    containers = pod_spec(named(manifests, "Deployment", app))["containers"]
    found: Manifest = next(c for c in containers if c["name"] == "app")
    return found


@pytest.mark.slow
def test_every_builtin_resource_passes_the_strict_kubernetes_schema(
    manifests: list[Manifest],
) -> None:
    validated = 0
    for manifest in manifests:
        if group(manifest) in CRD_GROUPS:
            continue
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        validated += 1
    assert validated > 40


@pytest.mark.slow
def test_operator_resources_have_the_fields_their_operators_require(
    manifests: list[Manifest],
) -> None:
    for app, database in DATABASES.items():
        cluster = named(manifests, "Cluster", database)
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] >= 1
        assert cluster["spec"]["storage"]["size"]
        assert cluster["spec"]["bootstrap"]["initdb"] == {"database": app, "owner": app}
    monitors = [m for m in manifests if m["kind"] in ("PodMonitor", "ServiceMonitor")]
    assert len(monitors) == 3
    for monitor in monitors:
        endpoints = monitor["spec"].get("podMetricsEndpoints") or monitor["spec"]["endpoints"]
        assert monitor["spec"]["selector"]["matchLabels"]
        assert all(endpoint["port"] for endpoint in endpoints)


@pytest.mark.slow
def test_every_container_is_non_root_read_only_without_capabilities_and_bounded(
    manifests: list[Manifest],
) -> None:
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), where
            image: str = container["image"]
            assert ":" in image, f"{where}: {image} has no tag"
            assert not image.endswith(":latest"), f"{where}: {image}"


def sidecar_container(manifests: list[Manifest], app: str) -> Manifest:
    init = pod_spec(named(manifests, "Deployment", app)).get("initContainers", [])
    found = [c for c in init if c["name"] == "envoy"]
    assert len(found) == 1, f"{app} has no Envoy sidecar"
    sidecar: Manifest = found[0]
    return sidecar


def settings_of(manifests: list[Manifest], app: str) -> dict[str, str]:
    data: dict[str, str] = generated(manifests, "ConfigMap", f"{app}-config")["data"]
    return data


@pytest.mark.slow
def test_apps_are_probed_over_grpc_health_by_service_name_through_the_sidecar(
    manifests: list[Manifest],
) -> None:
    for app, health_name in APPS.items():
        container = app_container(manifests, app)
        probe = {"port": HEALTH_PORT, "service": health_name}
        assert container["startupProbe"]["grpc"] == probe, app
        assert container["readinessProbe"]["grpc"] == probe, app
        # Liveness never follows a dependency: its own health name, not "" or the service's.
        assert container["livenessProbe"]["grpc"] == {"port": HEALTH_PORT, "service": LIVENESS}, app


@pytest.mark.slow
def test_every_app_runs_a_pinned_envoy_native_sidecar_with_its_config_and_certificate(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        sidecar = sidecar_container(manifests, app)
        assert sidecar["restartPolicy"] == "Always", app
        assert sidecar["image"] == SIDECAR_IMAGE, app
        assert sidecar["args"][0] == "--config-path=/etc/lastmile/sidecar/envoy.yaml"
        ports = {p["containerPort"] for p in sidecar["ports"]}
        assert ports == {CANONICAL_PORTS[app], HEALTH_PORT, STATS_PORT}, app
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert sidecar[probe]["tcpSocket"] == {"port": STATS_PORT}, f"{app} {probe}"
        assert sidecar["lifecycle"]["preStop"]["exec"]["command"][:2] == ["/bin/bash", "-c"]
        volumes = {v["name"]: v for v in pod_spec(named(manifests, "Deployment", app))["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
        config = generated(manifests, "ConfigMap", f"{app}-sidecar")
        assert (
            volumes[mounts["/etc/lastmile/sidecar"]]["configMap"]["name"]
            == config["metadata"]["name"]
        )
        listeners = yaml.safe_load(config["data"]["envoy.yaml"])["static_resources"]["listeners"]
        listened = {listener["address"]["socket_address"]["port_value"] for listener in listeners}
        assert {CANONICAL_PORTS[app], HEALTH_PORT, STATS_PORT} <= listened, app
        assert volumes[mounts[MESH_TLS_DIR]]["secret"]["secretName"] == f"{app}-mesh-tls", app


@pytest.mark.slow
def test_every_sidecar_runs_with_the_renderers_command_args_and_prestop(
    manifests: list[Manifest],
) -> None:
    """gateway/sidecar/kubernetes.py is the one source of how a sidecar is started and
    drained; the Deployments must say exactly that."""
    for app in APPS:
        sidecar = sidecar_container(manifests, app)
        assert tuple(sidecar["command"]) == SIDECAR_COMMAND, app
        assert tuple(sidecar["args"]) == SIDECAR_ARGS, app
        assert tuple(sidecar["lifecycle"]["preStop"]["exec"]["command"]) == PRESTOP_COMMAND, app


@pytest.mark.slow
def test_every_sidecar_configmap_holds_the_rendered_bootstrap_and_sds_files(
    manifests: list[Manifest],
) -> None:
    """Envoy reads its certificate through SDS resource files next to its bootstrap; a file
    missing from the ConfigMap would keep it from starting."""
    for app in APPS:
        data = generated(manifests, "ConfigMap", f"{app}-sidecar")["data"]
        assert data == render_k8s_sidecar_files(app, MeshTopology.load()), app
        for path in re.findall(r"path: (/etc/lastmile/sidecar/\S+)", data["envoy.yaml"]):
            assert Path(path).parent == KUBERNETES_SIDECAR_DIR, app
            assert Path(path).name in data, f"{app}: {path} is not in its ConfigMap"
    edge = generated(manifests, "ConfigMap", "edge-config")["data"]
    for path in set(re.findall(rf'"({MOUNTED_CONFIG_DIR}/[^"]+)"', edge["edge.json"])):
        assert Path(path).name in edge, f"edge: {path} is not in its ConfigMap"


@pytest.mark.slow
def test_apps_listen_on_loopback_and_call_their_callees_through_the_sidecar(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        settings = settings_of(manifests, app)
        prefix = f"LASTMILE_{app.upper()}_"
        assert settings[f"{prefix}GRPC_HOST"] == "127.0.0.1", app
        assert int(settings[f"{prefix}GRPC_PORT"]) == CANONICAL_PORTS[app] + 1000, app
        callees = {c.callee for c in CALLS if c.caller == app}
        outbound = {f"127.0.0.1:{CANONICAL_PORTS[c] - 50000 + 15000}" for c in callees}
        for key, value in settings.items():
            if re.fullmatch(rf"{prefix}\w+_TARGETS?", key):
                assert value in outbound, f"{key}={value} is not a sidecar listener of {app}"


@pytest.mark.slow
def test_termination_grace_outlasts_the_apps_drain_and_then_the_sidecars(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        settings = settings_of(manifests, app)
        prefix = f"LASTMILE_{app.upper()}_"
        drain = float(settings[f"{prefix}DRAIN_DELAY_SECONDS"])
        grace = float(settings[f"{prefix}SHUTDOWN_GRACE_SECONDS"])
        spec = pod_spec(named(manifests, "Deployment", app))
        assert spec["terminationGracePeriodSeconds"] > drain + grace + SIDECAR_DRAIN_SECONDS
        readiness = app_container(manifests, app)["readinessProbe"]
        assert drain > readiness["periodSeconds"] * readiness["failureThreshold"]
        sidecar_args = sidecar_container(manifests, app)["args"]
        assert f"--drain-time-s={SIDECAR_DRAIN_SECONDS}" in sidecar_args


@pytest.mark.slow
def test_apps_read_every_secret_from_a_secret_and_config_from_their_configmap(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        container = app_container(manifests, app)
        config_maps = {ref["configMapRef"]["name"] for ref in container["envFrom"]}
        assert config_maps == {
            generated(manifests, "ConfigMap", f"{app}-config")["metadata"]["name"]
        }
        for variable in container.get("env", []):
            source = variable["valueFrom"]
            assert "secretKeyRef" in source or source == {
                "fieldRef": {"fieldPath": "metadata.name"}
            }, variable["name"]
        configured = generated(manifests, "ConfigMap", f"{app}-config")["data"]
        assert configured[f"LASTMILE_{app.upper()}_ENVIRONMENT"] == "production"
        # A *_FILE setting is a path, and the file it names must come from a Secret; the
        # regions file alone is plain configuration (its own ConfigMap, tested below).
        secret_dirs = _secret_mount_paths(manifests, app)
        for key, value in configured.items():
            if key.endswith("_FILE") and not key.endswith("_REGIONS_FILE"):
                assert str(Path(value).parent) in secret_dirs, (app, key)
        assert not any(
            word in key
            for key in configured
            if not key.endswith("_FILE")
            for word in ("KEY", "SECRET", "PASSWORD")
        ), f"{app}-config holds a secret"


def _secret_mount_paths(manifests: list[Manifest], app: str) -> set[str]:
    """Where the app container mounts volumes that are Secrets."""
    volumes = pod_spec(named(manifests, "Deployment", app))["volumes"]
    secrets = {v["name"] for v in volumes if "secret" in v}
    mounts = app_container(manifests, app).get("volumeMounts", [])
    return {m["mountPath"] for m in mounts if m["name"] in secrets}


@pytest.mark.slow
def test_the_edge_and_every_app_record_one_trace_in_a_hundred_and_apps_follow_the_edge(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        settings = settings_of(manifests, app)
        assert float(settings[f"LASTMILE_{app.upper()}_TRACE_SAMPLE_RATIO"]) == 0.01, app
    edge = json.loads(generated(manifests, "ConfigMap", "edge-config")["data"]["edge.json"])
    [listener] = edge["static_resources"]["listeners"]
    [chain] = listener["filter_chains"]
    manager = chain["filters"][0]["typed_config"]
    assert manager["tracing"]["random_sampling"] == {"value": 1.0}


@pytest.mark.slow
def test_everything_is_denied_by_default_and_every_workload_has_its_own_allow_policy(
    manifests: list[Manifest],
) -> None:
    policies = of_kind(manifests, "NetworkPolicy")
    deny = named(manifests, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for workload in workloads(manifests):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        own = [
            p
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
            == labels["app.kubernetes.io/name"]
        ]
        assert own, f"{workload['metadata']['name']} has no allow policy"
    for database in DATABASES.values():
        named(manifests, "NetworkPolicy", database)


def peers(rules: list[Manifest], direction: str) -> dict[str, set[Any]]:
    """The pods that a policy's rules admit, by app or database name, with their ports."""
    admitted: dict[str, set[Any]] = {}
    for rule in rules:
        for peer in rule.get(direction, []):
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            name = labels.get("app.kubernetes.io/name") or labels.get("cnpg.io/cluster")
            if name and "namespaceSelector" not in peer:
                admitted.setdefault(name, set()).update(p["port"] for p in rule["ports"])
    return admitted


@pytest.mark.slow
def test_only_the_edge_and_orders_may_call_pricing(manifests: list[Manifest]) -> None:
    ingress = named(manifests, "NetworkPolicy", "pricing")["spec"]["ingress"]
    assert set(peers(ingress, "from")) == {"edge", "orders"}


@pytest.mark.slow
def test_each_service_admits_exactly_its_callers_in_the_mesh_topology(
    manifests: list[Manifest],
) -> None:
    for app, port in CANONICAL_PORTS.items():
        admitted = peers(named(manifests, "NetworkPolicy", app)["spec"]["ingress"], "from")
        callers = {c.caller for c in CALLS if c.callee == app}
        assert set(admitted) == callers, app
        for caller in callers:
            assert {port, HEALTH_PORT} <= admitted[caller], f"{caller} -> {app}"


@pytest.mark.slow
def test_each_workload_reaches_exactly_its_callees_broker_and_database(
    manifests: list[Manifest],
) -> None:
    for workload in (EDGE, *CANONICAL_PORTS):
        egress = named(manifests, "NetworkPolicy", workload)["spec"].get("egress", [])
        reached = peers(egress, "to")
        callees = {c.callee for c in CALLS if c.caller == workload}
        expected = callees | ({"nats"} if workload in BROKER_USERS else set())
        expected |= {DATABASES[workload]} if workload in DATABASES else set()
        assert set(reached) == expected, workload
        for callee in callees:
            assert {CANONICAL_PORTS[callee], HEALTH_PORT} <= reached[callee], workload
    nats = named(manifests, "NetworkPolicy", "nats")["spec"]["ingress"]
    assert set(peers(nats, "from")) == BROKER_USERS | {"nats"}


@pytest.mark.slow
def test_prometheus_may_scrape_the_apps_and_their_sidecars(
    manifests: list[Manifest],
) -> None:
    scrape = named(manifests, "NetworkPolicy", "allow-prometheus-scrape-sidecars")["spec"]
    assert scrape["podSelector"] == {"matchLabels": {"lastmile.dev/mesh": "sidecar"}}
    assert scrape["ingress"][0]["ports"] == [{"protocol": "TCP", "port": STATS_PORT}]
    for app in APPS:
        labels = named(manifests, "Deployment", app)["spec"]["template"]["metadata"]["labels"]
        assert labels["lastmile.dev/mesh"] == "sidecar", app
        assert labels["lastmile.dev/metrics"] == "admin", app
    sidecars = named(manifests, "PodMonitor", "lastmile-sidecars")["spec"]
    assert sidecars["podMetricsEndpoints"][0]["path"] == "/stats/prometheus"


@pytest.mark.slow
def test_every_mesh_workload_mounts_a_short_lived_spiffe_certificate_from_the_mesh_ca(
    manifests: list[Manifest],
) -> None:
    certificates = {c["spec"]["secretName"]: c["spec"] for c in of_kind(manifests, "Certificate")}
    for workload in (EDGE, *CANONICAL_PORTS):
        spec = certificates[f"{workload}-mesh-tls"]
        assert spec["uris"] == [f"spiffe://lastmile.dev/ns/lastmile/sa/{workload}"]
        assert spec["issuerRef"]["name"] == "lastmile-mesh-ca"
        assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
        assert (spec["duration"], spec["renewBefore"]) == ("24h", "8h")
        volumes = pod_spec(named(manifests, "Deployment", workload))["volumes"]
        secret = {"secretName": f"{workload}-mesh-tls", "defaultMode": 0o440}
        assert secret in [v.get("secret") for v in volumes], workload
    ca = named(manifests, "Issuer", "lastmile-mesh-ca")["spec"]["ca"]["secretName"]
    assert certificates[ca]["isCA"] is True
    bootstrap = certificates[ca]["issuerRef"]["name"]
    assert named(manifests, "Issuer", bootstrap)["spec"] == {"selfSigned": {}}


@pytest.mark.slow
def test_the_sidecars_prestop_hook_drains_a_real_envoy_through_its_admin_port(
    dev: list[Manifest], tmp_path: Path
) -> None:
    """The hook runs in the envoyproxy/envoy image (bash, no curl or wget); here it runs
    against a real Envoy with a free admin port, and with the sleep cut short."""
    script: str = sidecar_container(dev, "pricing")["lifecycle"]["preStop"]["exec"]["command"][2]
    with running_envoy(tmp_path) as (admin_port, listener_port):
        hook = script.replace("15000", str(admin_port))
        hook = hook.replace(f"sleep {SIDECAR_DRAIN_SECONDS}", "sleep 0")
        subprocess.run(["/bin/bash", "-c", hook], check=True, timeout=10)
        reply = http_get(listener_port)
    # A draining HTTP connection manager closes every connection after its response.
    assert "connection: close" in reply.lower(), reply


@pytest.mark.slow
def test_app_services_are_headless_so_http2_is_balanced_per_request(
    manifests: list[Manifest],
) -> None:
    for app in APPS:
        assert named(manifests, "Service", app)["spec"]["clusterIP"] == "None"


@pytest.mark.slow
def test_jetstream_fsyncs_every_write(manifests: list[Manifest]) -> None:
    config = generated(manifests, "ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "sync_interval: always" in config


@pytest.mark.slow
def test_dev_runs_one_replica_of_everything_without_autoscaling(dev: list[Manifest]) -> None:
    assert of_kind(dev, "HorizontalPodAutoscaler") == []
    for workload in workloads(dev):
        assert workload["spec"]["replicas"] == 1, workload["metadata"]["name"]
    # One replica must stay evictable, or node drains would block on it.
    for budget in of_kind(dev, "PodDisruptionBudget"):
        assert budget["spec"] == {**budget["spec"], "maxUnavailable": 1}, budget["metadata"]


@pytest.mark.slow
def test_prod_autoscales_the_stateless_apps_and_spreads_every_workload(
    prod: list[Manifest],
) -> None:
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(prod, "HorizontalPodAutoscaler")}
    assert scaled == AUTOSCALED_APPS
    protected = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in of_kind(prod, "PodDisruptionBudget")
    }
    for workload in workloads(prod):
        name = workload["metadata"]["name"]
        if name in ACTIVE_STANDBY_APPS:
            assert workload["spec"]["replicas"] == 2, name
        else:
            assert workload["spec"]["replicas"] >= (2 if name == "otel-collector" else 3), name
        assert pod_spec(workload)["affinity"]["podAntiAffinity"], name
        assert name in protected, f"{name} has no PodDisruptionBudget"
    assert named(prod, "PodDisruptionBudget", "dispatch")["spec"]["minAvailable"] == 1
    nats_cluster = generated(prod, "ConfigMap", "nats-config")["data"]["cluster.conf"]
    assert nats_cluster.count("nats-headless") == 3
    assert all(named(prod, "Cluster", db)["spec"]["instances"] == 3 for db in DATABASES.values())


@pytest.mark.slow
def test_no_secret_values_ship_outside_the_dev_overlay(
    dev: list[Manifest], prod: list[Manifest]
) -> None:
    assert of_kind(prod, "Secret") == []
    for secret in of_kind(dev, "Secret"):
        for key, value in secret["data"].items():
            assert base64.b64decode(value).decode().startswith("example-dev-"), key


def test_the_committed_edge_config_is_what_the_renderer_produces(tmp_path: Path) -> None:
    render_k8s_edge_files(tmp_path)
    rendered = sorted(path.name for path in tmp_path.iterdir())
    assert rendered == sorted(path.name for path in K8S_EDGE_DIR.iterdir())
    _, mismatched, errors = filecmp.cmpfiles(tmp_path, K8S_EDGE_DIR, rendered, shallow=False)
    assert not errors, errors
    assert not mismatched, f"stale: {mismatched}; run `make k8s-edge`"


@pytest.mark.parametrize("app", ["orders", "pricing"])
def test_apps_read_the_shipped_regions_file_from_the_mounted_regions_configmap(
    manifests: list[Manifest], app: str
) -> None:
    regions_file = Path(settings_of(manifests, app)[f"LASTMILE_{app.upper()}_REGIONS_FILE"])
    regions = generated(manifests, "ConfigMap", "lastmile-regions")
    [mount] = [
        m for m in app_container(manifests, app)["volumeMounts"]
        if Path(m["mountPath"]) == regions_file.parent
    ]  # fmt: skip
    [volume] = [
        v for v in pod_spec(named(manifests, "Deployment", app))["volumes"]
        if v["name"] == mount["name"]
    ]  # fmt: skip
    assert volume["configMap"]["name"] == regions["metadata"]["name"]
    # `make k8s` copies the shipped file; a stale copy would serve other regions.
    assert regions["data"][regions_file.name] == SHIPPED_REGIONS_FILE.read_text()
    assert Regions.parse(json.loads(regions["data"][regions_file.name])).names
