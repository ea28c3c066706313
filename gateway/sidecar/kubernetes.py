"""The sidecars' Kubernetes variant, written to deploy/k8s/base/<service>/sidecar/ (one folder
per service of the topology: the bootstrap envoy.yaml and its SDS resource files), the drift
check of those files, and the container interface the manifests must use.

How a pod runs its sidecar (the interface with deploy/k8s; a contract test holds the
Deployments to SIDECAR_COMMAND, SIDECAR_ARGS and PRESTOP_COMMAND):

- a native sidecar: an init container with `restartPolicy: Always`, started (and probed on
  15090) before the app, stopped only after the app has exited;
- its ConfigMap (every file rendered here) is mounted at /etc/lastmile/sidecar;
- ports: the pod/Service port is the canonical one (inbound mTLS); the app listens on
  127.0.0.1:<canonical + 1000>; 15021 plaintext Health/Check (kubelet gRPC probes, `service`
  set); 15090 /stats/prometheus; 15000 admin on loopback only; 1505x outbound listeners;
- certificates: the workload's cert-manager Secret at /etc/lastmile/tls (tls.crt, tls.key,
  ca.crt) with the URI SAN spiffe://lastmile.dev/ns/lastmile/sa/<service>, read through
  file-based SDS, so a renewal (the kubelet swaps the Secret's `..data` symlink) reaches new
  handshakes without a restart;
- shutdown, in the order native sidecars give: the pod is deleted and the app gets SIGTERM
  first; it reports NOT_SERVING, keeps serving for its drain delay (10 s), then drains its
  calls and streams (up to 20 s) while the sidecar still carries its inbound and outbound
  traffic. Only once the app has exited does the kubelet stop the sidecar: its preStop
  (PRESTOP_COMMAND) asks the admin API to drain every listener gracefully (GOAWAY, so peers
  still connected move to other pods instead of seeing resets) and waits DRAIN_SECONDS, the
  same as `--drain-time-s`; then Envoy gets SIGTERM. terminationGracePeriodSeconds (45 s)
  covers 10 + 20 + 5 s.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway.edge.settings import ROOT
from gateway.sidecar.placement import KUBERNETES_SIDECAR_DIR, kubernetes_placement
from gateway.sidecar.render import render_sidecar_config
from gateway.sidecar.tls import sds_documents
from gateway.sidecar.topology import ADMIN_PORT, SERVICES, MeshTopology

K8S_BASE = ROOT / "deploy" / "k8s" / "base"
CONFIG_FILE = "envoy.yaml"
# How long the sidecar's graceful drain discourages requests (GOAWAY) before its listeners
# close. The app has drained and exited before this starts, so it only needs to cover peers
# that are still connected.
DRAIN_SECONDS = 5
SIDECAR_COMMAND = ("envoy",)
SIDECAR_ARGS = (
    f"--config-path={KUBERNETES_SIDECAR_DIR / CONFIG_FILE}",
    "--concurrency=2",
    "--disable-hot-restart",
    "--log-level=warning",
    f"--drain-time-s={DRAIN_SECONDS}",
    "--drain-strategy=immediate",
)
# preStop of the sidecar container; it runs once the app has exited. Envoy closes its
# listeners at once on SIGTERM, hence the explicit graceful drain first. The envoyproxy/envoy
# image has bash but no curl or wget: bash's /dev/tcp speaks the one HTTP request.
_DRAIN_REQUEST = (
    r"POST /drain_listeners?graceful HTTP/1.1\r\nHost: localhost\r\n"
    r"Connection: close\r\nContent-Length: 0\r\n\r\n"
)
PRESTOP_COMMAND = (
    "/bin/bash",
    "-c",
    f"exec 3<>/dev/tcp/127.0.0.1/{ADMIN_PORT} &&\n"
    f"  printf '{_DRAIN_REQUEST}' >&3 &&\n"
    "  cat <&3 >/dev/null\n"
    f"sleep {DRAIN_SECONDS}",
)
_HEADER = (
    "# Rendered by `python -m gateway.sidecar write-k8s` from gateway/sidecar; do not edit.\n"
    "# A contract test fails when this file and the renderer disagree.\n"
)


def sidecar_dir(base: Path, service: str) -> Path:
    return base / service / "sidecar"


def render_k8s_sidecar(service: str, mesh: MeshTopology) -> str:
    config = render_sidecar_config(kubernetes_placement(service, mesh), mesh)
    return _HEADER + yaml.safe_dump(config, sort_keys=False, width=100)


def render_k8s_sidecar_files(service: str, mesh: MeshTopology) -> dict[str, str]:
    """Every file of `service`'s sidecar ConfigMap, by name: envoy.yaml and the SDS files."""
    placement = kubernetes_placement(service, mesh)
    files = {CONFIG_FILE: render_k8s_sidecar(service, mesh)}
    for name, document in sds_documents(placement.certs).items():
        files[name] = _HEADER + yaml.safe_dump(document, sort_keys=False, width=100)
    return files


def write_k8s_sidecars(base: Path = K8S_BASE, mesh: MeshTopology | None = None) -> list[Path]:
    """Write every service's sidecar files under `base`; return the paths written."""
    mesh = mesh or MeshTopology.load()
    written = []
    for service in SERVICES:
        directory = sidecar_dir(base, service)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in render_k8s_sidecar_files(service, mesh).items():
            (directory / name).write_text(text)
            written.append(directory / name)
    return written


def drifted_sidecars(base: Path = K8S_BASE, mesh: MeshTopology | None = None) -> list[Path]:
    """The committed files that differ from what the renderer writes now, are missing, or are
    left over (rendered no more)."""
    mesh = mesh or MeshTopology.load()
    drifted = []
    for service in SERVICES:
        directory = sidecar_dir(base, service)
        files = render_k8s_sidecar_files(service, mesh)
        for name, text in files.items():
            path = directory / name
            if not path.exists() or path.read_text() != text:
                drifted.append(path)
        if directory.is_dir():
            drifted += sorted(p for p in directory.iterdir() if p.name not in files)
    return drifted
