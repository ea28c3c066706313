"""The edge's upstream clusters: one HTTP/2 cluster per service, and identity's JWKS endpoint."""

from __future__ import annotations

import ipaddress
from typing import Any

from gateway.edge.settings import Address, EdgeSettings
from gateway.edge.surface import EdgeSurface

Config = dict[str, Any]

JWKS_CLUSTER = "identity_jwks"
_HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def cluster_name(upstream: str) -> str:
    return f"lastmile_{upstream}"


def clusters(settings: EdgeSettings, surface: EdgeSurface) -> list[Config]:
    missing = sorted(set(surface.upstreams) - set(settings.upstreams))
    if missing:
        raise ValueError(f"no upstream address for the public services of: {', '.join(missing)}")
    services = [_service_cluster(settings, surface, upstream) for upstream in surface.upstreams]
    return [*services, _jwks_cluster(settings.jwks_address)]


def _service_cluster(settings: EdgeSettings, surface: EdgeSurface, upstream: str) -> Config:
    name = cluster_name(upstream)
    address = settings.upstreams[upstream]
    # The public service's own status, not the server's: a dispatch standby is NOT_SERVING.
    health_service = next(s.full_name for s in surface.public if s.upstream == upstream)
    return {
        "name": name,
        **_discovery(address),
        "connect_timeout": "2s",
        "per_connection_buffer_limit_bytes": 32 * 1024,
        "load_assignment": _load_assignment(name, address),
        "typed_extension_protocol_options": {
            _HTTP_PROTOCOL_OPTIONS: {
                "@type": f"type.googleapis.com/{_HTTP_PROTOCOL_OPTIONS}",
                "explicit_http_config": {
                    "http2_protocol_options": {
                        # Finds dead upstream connections under idle streams. The Python
                        # servers accept a ping every 20 s at most; jitter only adds time.
                        "connection_keepalive": {"interval": "30s", "timeout": "10s"},
                    }
                },
            }
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "5s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                # Keeps the status fresh for an idle edge too (the default is 60 s).
                "no_traffic_interval": "10s",
                "grpc_health_check": {"service_name": health_service},
            }
        ],
        "circuit_breakers": {
            "thresholds": [
                {
                    "priority": "DEFAULT",
                    "max_connections": 1024,
                    "max_pending_requests": 1024,
                    "max_requests": settings.max_upstream_requests,
                    "max_retries": 16,
                }
            ]
        },
    }


def _jwks_cluster(address: Address) -> Config:
    return {
        "name": JWKS_CLUSTER,
        **_discovery(address),
        "connect_timeout": "2s",
        "load_assignment": _load_assignment(JWKS_CLUSTER, address),
    }


def _discovery(address: Address) -> Config:
    try:
        ipaddress.ip_address(address.host)
    except ValueError:
        # A name (Kubernetes Service, docker host): re-resolved as it changes.
        return {"type": "STRICT_DNS", "dns_lookup_family": "V4_PREFERRED"}
    return {"type": "STATIC"}


def _load_assignment(name: str, address: Address) -> Config:
    socket_address = {"address": address.host, "port_value": address.port}
    return {
        "cluster_name": name,
        "endpoints": [
            {"lb_endpoints": [{"endpoint": {"address": {"socket_address": socket_address}}}]}
        ],
    }
