"""Renders one sidecar's Envoy bootstrap: the same template for every service, placed for
Kubernetes or for the local mesh (see placement.py)."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.envoy_config import Config, connection_limit, socket_address
from gateway.sidecar.clusters import admin_cluster, app_cluster, callee_cluster
from gateway.sidecar.listeners import (
    health_listener,
    inbound_listener,
    outbound_listener,
    stats_listener,
)
from gateway.sidecar.placement import LOOPBACK, Placement
from gateway.sidecar.topology import MeshTopology

CONFIG_FILE = "envoy.json"


def render_sidecar_config(placement: Placement, mesh: MeshTopology) -> Config:
    service = placement.service
    callees = mesh.callees(service)
    listeners = [
        inbound_listener(placement, mesh),
        *(outbound_listener(placement, mesh, callee) for callee in callees),
        health_listener(placement),
        stats_listener(placement),
    ]
    clusters = [
        app_cluster(placement),
        *(callee_cluster(placement, c, mesh.health_service(service, c)) for c in callees),
        admin_cluster(placement),
    ]
    return {
        "node": {"id": f"{service}-sidecar", "cluster": service},
        # Loopback only: the admin interface can stop the server. Probes use the health
        # listener, Prometheus the stats listener.
        "admin": {"address": socket_address(LOOPBACK, placement.admin_port)},
        "static_resources": {"listeners": listeners, "clusters": clusters},
        "overload_manager": connection_limit(20_000),
    }


def write_sidecar_config(
    placement: Placement, mesh: MeshTopology, out_dir: Path, name: str | None = None
) -> Path:
    """Write `<out_dir>/<name>/envoy.json` (name: the service's, unless a replica's) and
    return its path."""
    directory = out_dir / (name or placement.service)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    path.write_text(json.dumps(render_sidecar_config(placement, mesh), indent=2) + "\n")
    return path
