"""The Kubernetes manifests: every overlay renders with the real kustomize, every built-in
resource passes the Kubernetes 1.37 schema strictly, and the properties that keep the mesh
safe and available hold in what is rendered, not in what was meant.

kubernetes-validate has no schema for operator CRDs (CloudNativePG Cluster, Prometheus
PodMonitor/ServiceMonitor); those are skipped by name and checked structurally instead."""

from __future__ import annotations

import base64
import filecmp
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.edge.kubernetes import K8S_EDGE_DIR, render_k8s_edge_files
from gateway.edge.settings import ROOT

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
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    name: str = request.param
    return name, render(name)


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
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    validated = 0
    for manifest in manifests:
        if group(manifest) in CRD_GROUPS:
            continue
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        validated += 1
    assert validated > 40


@pytest.mark.slow
def test_operator_resources_have_the_fields_their_operators_require(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    for app, database in DATABASES.items():
        cluster = named(manifests, "Cluster", database)
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] >= 1
        assert cluster["spec"]["storage"]["size"]
        assert cluster["spec"]["bootstrap"]["initdb"] == {"database": app, "owner": app}
    monitors = [m for m in manifests if group(m) == "monitoring.coreos.com"]
    assert {m["kind"] for m in monitors} == {"PodMonitor", "ServiceMonitor"}
    for monitor in monitors:
        endpoints = monitor["spec"].get("podMetricsEndpoints") or monitor["spec"]["endpoints"]
        assert monitor["spec"]["selector"]["matchLabels"]
        assert all(endpoint["port"] for endpoint in endpoints)


@pytest.mark.slow
def test_every_container_is_non_root_read_only_without_capabilities_and_bounded(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
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


@pytest.mark.slow
def test_apps_are_probed_over_grpc_health_by_service_name(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    for app, health_name in APPS.items():
        container = app_container(manifests, app)
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        assert container["startupProbe"]["grpc"] == {"port": port, "service": health_name}
        assert container["readinessProbe"]["grpc"] == {"port": port, "service": health_name}
        assert container["livenessProbe"]["grpc"]["port"] == port


@pytest.mark.slow
def test_termination_grace_outlasts_the_apps_drain(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    for app in APPS:
        settings = generated(manifests, "ConfigMap", f"{app}-config")["data"]
        prefix = f"LASTMILE_{app.upper()}_"
        drain = float(settings[f"{prefix}DRAIN_DELAY_SECONDS"])
        grace = float(settings[f"{prefix}SHUTDOWN_GRACE_SECONDS"])
        spec = pod_spec(named(manifests, "Deployment", app))
        assert spec["terminationGracePeriodSeconds"] > drain + grace
        readiness = app_container(manifests, app)["readinessProbe"]
        assert drain > readiness["periodSeconds"] * readiness["failureThreshold"]


@pytest.mark.slow
def test_apps_read_every_secret_from_a_secret_and_config_from_their_configmap(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
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
        assert not any(
            word in key for key in configured for word in ("KEY", "SECRET", "PASSWORD")
        ), f"{app}-config holds a secret"


@pytest.mark.slow
def test_everything_is_denied_by_default_and_every_workload_has_its_own_allow_policy(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
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


@pytest.mark.slow
def test_only_the_edge_and_orders_may_call_pricing(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    ingress = named(manifests, "NetworkPolicy", "pricing")["spec"]["ingress"]
    callers = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in ingress
        for peer in rule["from"]
    }
    assert callers == {"edge", "orders"}


@pytest.mark.slow
def test_app_services_are_headless_so_http2_is_balanced_per_request(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    for app in APPS:
        assert named(manifests, "Service", app)["spec"]["clusterIP"] == "None"


@pytest.mark.slow
def test_jetstream_fsyncs_every_write(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    config = generated(manifests, "ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "sync_interval: always" in config


@pytest.mark.slow
def test_dev_runs_one_replica_of_everything_without_autoscaling(dev: list[Manifest]) -> None:
    assert of_kind(dev, "HorizontalPodAutoscaler") == []
    for workload in workloads(dev):
        assert workload["spec"]["replicas"] == 1, workload["metadata"]["name"]


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
