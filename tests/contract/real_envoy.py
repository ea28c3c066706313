"""A real Envoy with a small config that exercises what the mesh uses (an HTTP listener with
RBAC, a health-checked cluster with retries and outlier detection), for contract tests that
need its admin API or the names of the metrics it exposes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.edge.render import ENVOY
from services.devstack.ports import free_port
from tests.integration.gateway.edge_process import EnvoyProcess

_HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
_FILTERS = "type.googleapis.com/envoy.extensions.filters.http"


def _config(admin_port: int, listener_port: int) -> dict[str, Any]:
    route = {"match": {"prefix": "/"}, "direct_response": {"status": 200}}
    # /upstream goes round once through the cluster (back to this listener, as "/"), so that
    # the per-response statistics exist: Envoy creates some only when they are first charged.
    upstream = {
        "match": {"prefix": "/upstream"},
        "route": {"cluster": "upstream", "prefix_rewrite": "/"},
    }
    return {
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "inbound",
                    "traffic_direction": "INBOUND",
                    "address": {
                        "socket_address": {"address": "127.0.0.1", "port_value": listener_port}
                    },
                    "filter_chains": [{"filters": [_connection_manager([upstream, route])]}],
                }
            ],
            "clusters": [_cluster(listener_port)],
        },
    }


def _connection_manager(routes: list[dict[str, Any]]) -> dict[str, Any]:
    allow_all = {"permissions": [{"any": True}], "principals": [{"any": True}]}
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": f"{_HCM}.HttpConnectionManager",
            "stat_prefix": "inbound",
            "route_config": {
                "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]
            },
            "http_filters": [
                {
                    "name": "envoy.filters.http.rbac",
                    "typed_config": {
                        "@type": f"{_FILTERS}.rbac.v3.RBAC",
                        "rules": {"action": "ALLOW", "policies": {"all": allow_all}},
                    },
                },
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": f"{_FILTERS}.router.v3.Router"},
                },
            ],
        },
    }


def _cluster(port: int) -> dict[str, Any]:
    address = {"socket_address": {"address": "127.0.0.1", "port_value": port}}
    return {
        "name": "upstream",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "upstream",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "60s",
                "unhealthy_threshold": 1,
                "healthy_threshold": 1,
                "tcp_health_check": {},
            }
        ],
        "outlier_detection": {"consecutive_5xx": 5},
    }


def http_get(port: int, path: str = "/") -> str:
    """One HTTP/1.1 GET; the status line and headers, lower-cased names included as sent."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        headers = "\n".join(f"{name}: {value}" for name, value in response.getheaders())
        return f"{response.status}\n{headers}"
    finally:
        connection.close()


@contextmanager
def running_envoy(directory: Path, timeout: float = 20.0) -> Iterator[tuple[int, int]]:
    """Start Envoy (its own pid, stopped on exit); yield its admin and listener ports."""
    admin_port, listener_port = free_port(), free_port()
    config = directory / "envoy.json"
    config.write_text(json.dumps(_config(admin_port, listener_port)))
    process = EnvoyProcess(
        config,
        listener_port,
        admin_port,
        directory / "envoy.log",
        command=[str(ENVOY), "--config-path", str(config), "--disable-hot-restart",
                 "--drain-time-s", "5", "--drain-strategy", "immediate", "--log-level", "warning"],
    )  # fmt: skip
    try:
        process.start(timeout)
        yield admin_port, listener_port
    finally:
        process.stop()


def prometheus_stats(admin_port: int) -> str:
    """The admin API's /stats/prometheus page, as Prometheus scrapes it from a sidecar."""
    connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
    try:
        connection.request("GET", "/stats/prometheus")
        return connection.getresponse().read().decode()
    finally:
        connection.close()
