"""Small typed building blocks of Envoy's v3 config, shared by the edge and the sidecars."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

Config = dict[str, Any]

HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HTTP_CONNECTION_MANAGER = "envoy.filters.network.http_connection_manager"
ROUTER = "envoy.filters.http.router"


def typed(type_name: str, **fields: Any) -> Config:
    """An `Any`-typed config: the @type URL of `type_name` plus its fields."""
    return {"@type": f"type.googleapis.com/{type_name}", **fields}


def socket_address(host: str, port: int) -> Config:
    return {"socket_address": {"address": host, "port_value": port}}


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def discovery(host: str) -> Config:
    """STATIC for an IP literal; STRICT_DNS for a name, which is re-resolved as it changes
    (a headless Kubernetes Service resolves to every ready pod)."""
    if is_ip_literal(host):
        return {"type": "STATIC"}
    return {"type": "STRICT_DNS", "dns_lookup_family": "V4_PREFERRED"}


def load_assignment(
    cluster: str, host: str, port: int, *, health_port: int | None = None
) -> Config:
    """One endpoint; `health_port` sends active health checks to another port of it."""
    return endpoints_assignment(cluster, [(host, port, health_port)])


def endpoints_assignment(cluster: str, endpoints: Sequence[tuple[str, int, int | None]]) -> Config:
    """Every replica of an upstream as an endpoint (host, port, health port or None) of one
    locality, so the cluster's load balancer picks among them per request."""
    lb_endpoints = []
    for host, port, health_port in endpoints:
        endpoint: Config = {"address": socket_address(host, port)}
        if health_port is not None:
            endpoint["health_check_config"] = {"port_value": health_port}
        lb_endpoints.append({"endpoint": endpoint})
    return {"cluster_name": cluster, "endpoints": [{"lb_endpoints": lb_endpoints}]}


# Services whose replicas serve only while they lead (dispatch holds a matcher lock per
# database): every other replica is a standby, NOT_SERVING for as long as it stands by.
LEADER_ELECTED_SERVICES = frozenset({"dispatch"})


def health_gated_balancing(service: str) -> Config:
    """Cluster load-balancing options for an upstream whose active health check asks the
    service whether this replica serves.

    For a leader-elected service, never route to a host that fails it (panic threshold 0):
    Envoy's default (50%) would send calls to every host once fewer than half pass, that is
    as soon as two of three dispatch replicas are standbys. With no leader (a failover), a
    call fails at once with 503/UNAVAILABLE instead of reaching a standby that refuses it.
    The other services keep Envoy's default: below half healthy their replicas are down or
    draining, which refuse a call before processing it (connect failure, refused stream,
    UNAVAILABLE, all retried on another host), and a lone replica that restarts takes calls
    again at once instead of after its next health check."""
    if service not in LEADER_ELECTED_SERVICES:
        return {}
    return {"common_lb_config": {"healthy_panic_threshold": {"value": 0}}}


def http2_upstream(*, keepalive: bool = True) -> Config:
    """Cluster protocol options: HTTP/2 (gRPC) upstream connections."""
    http2: Config = {}
    if keepalive:
        # Finds dead upstream connections under idle streams. The Python servers accept a
        # ping every 20 s at most; jitter only adds time.
        http2["connection_keepalive"] = {"interval": "30s", "timeout": "10s"}
    return {
        HTTP_PROTOCOL_OPTIONS: typed(
            HTTP_PROTOCOL_OPTIONS, explicit_http_config={"http2_protocol_options": http2}
        )
    }


def router() -> Config:
    return {
        "name": ROUTER,
        "typed_config": typed(
            "envoy.extensions.filters.http.router.v3.Router", suppress_envoy_headers=True
        ),
    }


def connection_limit(max_connections: int) -> Config:
    """An overload manager that refuses connections beyond `max_connections` (default: none)."""
    return {
        "resource_monitors": [
            {
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": typed(
                    "envoy.extensions.resource_monitors.downstream_connections.v3"
                    ".DownstreamConnectionsConfig",
                    max_active_downstream_connections=max_connections,
                ),
            }
        ]
    }
