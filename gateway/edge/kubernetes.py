"""The edge's Kubernetes variant: the same renderer, with cluster DNS upstreams and the files
the edge reads at the paths where its ConfigMaps are mounted. Its mesh certificate reaches
Envoy through file-based SDS (gateway/sidecar/tls.py), like the sidecars' ones: the SDS resource
files are rendered into the config directory, and cert-manager's renewals are picked up
without a restart.

`python -m gateway.edge.kubernetes` rewrites deploy/k8s/base/edge/config/; a contract test
fails when the committed files drift from what this renders.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from gateway.edge.docs_page import render_docs_page
from gateway.edge.render import CONFIG_FILE, DOCS_PAGE_FILE, render_edge_config
from gateway.edge.settings import (
    DEFAULT_UPSTREAMS,
    DESCRIPTOR_SET,
    OPENAPI_DOCUMENT,
    ROOT,
    Address,
    EdgeSettings,
    UpstreamMtls,
)
from gateway.sidecar.tls import KUBERNETES_CERTS, NAMESPACE, sds_documents
from gateway.sidecar.topology import HEALTH_PORT

K8S_EDGE_DIR = ROOT / "deploy" / "k8s" / "base" / "edge" / "config"
# Where the edge Deployment mounts the rendered files and the descriptor set.
MOUNTED_CONFIG_DIR = Path("/etc/lastmile/edge")
MOUNTED_DESCRIPTORS_DIR = Path("/etc/lastmile/descriptors")
LISTEN = Address("0.0.0.0", 8080)
_SDS_HEADER = "# Rendered by `make k8s-edge` (gateway/edge/kubernetes.py); do not edit.\n"


def service_host(name: str) -> str:
    """A service's fully qualified cluster DNS name (no reliance on resolv.conf search paths)."""
    return f"{name}.{NAMESPACE}.svc.cluster.local"


# Same ports as the local stack. The Services are headless, so each name resolves to every
# ready pod and Envoy balances requests across them (see deploy/k8s/README.md).
K8S_UPSTREAMS = MappingProxyType(
    {name: Address(service_host(name), address.port) for name, address in DEFAULT_UPSTREAMS.items()}
)


def k8s_edge_settings() -> EdgeSettings:
    return EdgeSettings(
        upstreams=K8S_UPSTREAMS,
        listen=LISTEN,
        jwks_url=f"http://{service_host('identity')}:9450/.well-known/jwks.json",
        # Browsers reach the API through the Ingress host only.
        cors_allowed_origins=("https://app.lastmile.dev",),
        # The edge starts each request's trace; the services' spans continue it.
        otlp_endpoint=Address(service_host("otel-collector"), 4317),
        # Head sampling at the services' production ratio (LASTMILE_<SERVICE>_TRACE_SAMPLE_RATIO).
        trace_sampling_percent=1.0,
        # Every service pod has an Envoy sidecar that requires mTLS; the edge's certificate
        # (SPIFFE id of `edge`) is mounted like the sidecars' ones, its SDS files with the config.
        upstream_mtls=UpstreamMtls(
            KUBERNETES_CERTS.with_sds(MOUNTED_CONFIG_DIR),
            MappingProxyType({name: HEALTH_PORT for name in K8S_UPSTREAMS}),
        ),
    )


def render_k8s_edge_files(out_dir: Path) -> None:
    """Write edge.json, docs.html, the OpenAPI document, the descriptor set and the SDS
    resource files of the edge's mesh certificate into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = k8s_edge_settings()
    document = json.loads(settings.openapi_document.read_text())
    shutil.copyfile(settings.openapi_document, out_dir / OPENAPI_DOCUMENT.name)
    shutil.copyfile(settings.descriptor_set, out_dir / DESCRIPTOR_SET.name)
    # The renderer reads the docs page's size, so it is written first.
    docs_page = out_dir / DOCS_PAGE_FILE
    docs_page.write_text(render_docs_page(document))
    config = render_edge_config(settings, docs_page=docs_page)
    mounted = {
        str(settings.descriptor_set): str(MOUNTED_DESCRIPTORS_DIR / DESCRIPTOR_SET.name),
        str(settings.openapi_document): str(MOUNTED_CONFIG_DIR / OPENAPI_DOCUMENT.name),
        str(docs_page): str(MOUNTED_CONFIG_DIR / DOCS_PAGE_FILE),
    }
    relocated = _replace_strings(config, mounted)
    (out_dir / CONFIG_FILE).write_text(json.dumps(relocated, indent=2) + "\n")
    mtls = settings.upstream_mtls
    if mtls is not None:
        for name, document in sds_documents(mtls.certs).items():
            (out_dir / name).write_text(_SDS_HEADER + yaml.safe_dump(document, sort_keys=False))


def _replace_strings(node: Any, replacements: dict[str, str]) -> Any:
    """`node` with every string equal to a key of `replacements` swapped for its value."""
    if isinstance(node, dict):
        return {key: _replace_strings(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_strings(item, replacements) for item in node]
    if isinstance(node, str):
        return replacements.get(node, node)
    return node


if __name__ == "__main__":
    render_k8s_edge_files(K8S_EDGE_DIR)
