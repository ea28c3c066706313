"""The sidecars' Kubernetes variant, written to deploy/k8s/base/<service>/sidecar/envoy.yaml
(one per service, for every service of the topology), and the drift check of those files.

How a pod runs its sidecar (the interface with deploy/k8s):

- container command: `envoy --config-path /etc/lastmile/sidecar/envoy.yaml` + SIDECAR_ARGS;
- ports: the pod/Service port is the canonical one (inbound mTLS); the app listens on
  127.0.0.1:<canonical + 1000>; 15021 plaintext Health/Check (kubelet gRPC probes, `service`
  set); 15090 /stats/prometheus; 15000 admin on loopback only; 1505x outbound listeners;
- certificates: the workload's cert-manager Secret at /etc/lastmile/tls (tls.crt, tls.key,
  ca.crt) with the URI SAN spiffe://lastmile.dev/ns/lastmile/sa/<service>;
- shutdown: see PRESTOP_COMMAND.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.edge.settings import ROOT
from gateway.sidecar.placement import kubernetes_placement
from gateway.sidecar.render import render_sidecar_config
from gateway.sidecar.topology import SERVICES, MeshTopology

K8S_BASE = ROOT / "deploy" / "k8s" / "base"
CONFIG_FILE = "envoy.yaml"
# Above the app's drain delay + shutdown grace (deploy/k8s config.env): in-flight calls and
# streams finish through the sidecar before Envoy gets its SIGTERM.
DRAIN_SECONDS = 25
SIDECAR_ARGS = (
    "--concurrency", "2",
    "--disable-hot-restart",
    "--drain-time-s", str(DRAIN_SECONDS),
    "--drain-strategy", "immediate",
    "--log-level", "warning",
)  # fmt: skip
# preStop of the sidecar container. Draining sends GOAWAY to callers (they open new
# connections to other replicas) while every stream already open keeps being served;
# `inboundonly` keeps the outbound listeners, which the app needs to finish its own work,
# open until the end. The pod's terminationGracePeriodSeconds must exceed the sleep.
PRESTOP_COMMAND = (
    "/bin/sh", "-c",
    "wget -q -O /dev/null --post-data= "
    "'http://127.0.0.1:15000/drain_listeners?graceful&inboundonly'; "
    f"sleep {DRAIN_SECONDS}",
)  # fmt: skip
_HEADER = (
    "# Rendered by `python -m gateway.sidecar write-k8s` from gateway/sidecar; do not edit.\n"
    "# A contract test fails when this file and the renderer disagree.\n"
)


def sidecar_file(base: Path, service: str) -> Path:
    return base / service / "sidecar" / CONFIG_FILE


def render_k8s_sidecar(service: str, mesh: MeshTopology) -> str:
    config = render_sidecar_config(kubernetes_placement(service, mesh), mesh)
    return _HEADER + yaml.safe_dump(config, sort_keys=False, width=100)


def write_k8s_sidecars(base: Path = K8S_BASE, mesh: MeshTopology | None = None) -> list[Path]:
    """Write every service's envoy.yaml under `base`; return the paths written."""
    mesh = mesh or MeshTopology.load()
    written = []
    for service in SERVICES:
        path = sidecar_file(base, service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_k8s_sidecar(service, mesh))
        written.append(path)
    return written


def drifted_sidecars(base: Path = K8S_BASE, mesh: MeshTopology | None = None) -> list[Path]:
    """The committed files that differ from what the renderer writes now, or are missing."""
    mesh = mesh or MeshTopology.load()
    drifted = []
    for service in SERVICES:
        path = sidecar_file(base, service)
        if not path.exists() or path.read_text() != render_k8s_sidecar(service, mesh):
            drifted.append(path)
    return drifted
