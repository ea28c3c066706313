"""Renders the edge's Envoy bootstrap from the descriptor set; the launcher runs
`envoy_command(write_edge_config(settings, out_dir))` and waits for the admin /ready."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gateway.edge.clusters import clusters
from gateway.edge.connection_manager import connection_manager
from gateway.edge.docs_page import render_docs_page
from gateway.edge.routes import StaticDocument
from gateway.edge.settings import EdgeSettings
from gateway.edge.surface import edge_surface
from gateway.envoy_config import HTTP_CONNECTION_MANAGER, Config, connection_limit, socket_address
from gateway.proto_catalog import ProtoCatalog

ENVOY = Path(sys.executable).parent / "envoy"

CONFIG_FILE = "edge.json"
DOCS_PAGE_FILE = "docs.html"
OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"


def render_edge_config(settings: EdgeSettings, *, docs_page: Path) -> Config:
    """The Envoy bootstrap; `docs_page` is the HTML file served at /docs (see write_edge_config)."""
    catalog = ProtoCatalog.from_descriptor_set(settings.descriptor_set.read_bytes())
    surface = edge_surface(catalog)
    upstream_clusters = clusters(settings, surface)
    documents = (
        StaticDocument(OPENAPI_PATH, settings.openapi_document, "application/json"),
        StaticDocument(DOCS_PATH, docs_page, "text/html; charset=utf-8"),
    )
    return {
        "node": {"id": "lastmile-edge", "cluster": "lastmile-edge"},
        "admin": {"address": socket_address("127.0.0.1", settings.admin_port)},
        "static_resources": {
            "listeners": [
                {
                    "name": "edge",
                    "address": socket_address(settings.listen.host, settings.listen.port),
                    "per_connection_buffer_limit_bytes": 32 * 1024,
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": HTTP_CONNECTION_MANAGER,
                                    "typed_config": connection_manager(
                                        settings, surface, documents
                                    ),
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": upstream_clusters,
        },
        "overload_manager": connection_limit(50_000),
    }


def write_edge_config(settings: EdgeSettings, out_dir: Path) -> Path:
    """Write the docs page and the bootstrap into `out_dir`; return the bootstrap's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    docs_page = (out_dir / DOCS_PAGE_FILE).resolve()
    document = json.loads(settings.openapi_document.read_text())
    docs_page.write_text(render_docs_page(document))
    config = render_edge_config(settings, docs_page=docs_page)
    path = out_dir / CONFIG_FILE
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def envoy_command(config: Path, *, envoy: Path = ENVOY, concurrency: int = 2) -> list[str]:
    """The command line that runs an Envoy (the edge or a sidecar) with a rendered config."""
    return [
        str(envoy),
        "--config-path", str(config),
        "--concurrency", str(concurrency),
        # One machine may run several Envoys (edge, sidecars); hot restart would make them share
        # one shared-memory segment.
        "--disable-hot-restart",
        # Access log lines reach the file (or the launcher's pipe) within a second, not ten.
        "--file-flush-interval-msec", "500",
        "--log-level", "warning",
    ]  # fmt: skip
