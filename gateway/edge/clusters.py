"""The edge's upstream clusters: one HTTP/2 cluster per service, and identity's JWKS endpoint."""

from __future__ import annotations

from gateway.edge.settings import Address, EdgeSettings
from gateway.edge.surface import EdgeSurface
from gateway.envoy_config import (
    Config,
    discovery,
    endpoints_assignment,
    health_gated_balancing,
    http2_upstream,
    load_assignment,
)
from gateway.sidecar.tls import grpc_health_check, plaintext_health_socket, upstream_tls

JWKS_CLUSTER = "identity_jwks"
OTLP_CLUSTER = "otlp_collector"


def cluster_name(upstream: str) -> str:
    return f"lastmile_{upstream}"


def clusters(settings: EdgeSettings, surface: EdgeSurface) -> list[Config]:
    missing = sorted(set(surface.upstreams) - set(settings.upstreams))
    if missing:
        raise ValueError(f"no upstream address for the public services of: {', '.join(missing)}")
    services = [_service_cluster(settings, surface, upstream) for upstream in surface.upstreams]
    collector = [] if settings.otlp_endpoint is None else [_otlp_cluster(settings.otlp_endpoint)]
    jwks = _jwks_cluster(settings.jwks_address, settings.jwks_replicas)
    return [*services, jwks, *collector]


def _service_cluster(settings: EdgeSettings, surface: EdgeSurface, upstream: str) -> Config:
    name = cluster_name(upstream)
    # Every replica (a headless Service's name resolves to every ready pod instead), balanced
    # per request by Envoy's default lb_policy, ROUND_ROBIN, among the hosts whose active
    # health check passes.
    endpoints = settings.endpoints(upstream)
    address = endpoints[0][0]
    # The public service's own status, not the server's: a dispatch standby is NOT_SERVING.
    health_service = next(s.full_name for s in surface.public if s.upstream == upstream)
    mtls = settings.upstream_mtls
    cluster: Config = {
        "name": name,
        **discovery(address.host),
        "connect_timeout": "2s",
        "per_connection_buffer_limit_bytes": 32 * 1024,
        "load_assignment": endpoints_assignment(
            name, [(a.host, a.port, health) for a, health in endpoints]
        ),
        "typed_extension_protocol_options": http2_upstream(),
        "health_checks": [grpc_health_check(health_service, plaintext=mtls is not None)],
        **health_gated_balancing(upstream),
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
    if mtls is not None:
        # The service's sidecar requires the edge's certificate and must present its own.
        cluster["transport_socket"] = upstream_tls(mtls.certs, upstream, address.host)
        cluster["transport_socket_matches"] = [plaintext_health_socket()]
    return cluster


def _jwks_cluster(address: Address, replicas: tuple[Address, ...]) -> Config:
    hosts = [(a.host, a.port, None) for a in (address, *replicas)]
    return {
        "name": JWKS_CLUSTER,
        **discovery(address.host),
        "connect_timeout": "2s",
        "load_assignment": endpoints_assignment(JWKS_CLUSTER, hosts),
    }


def _otlp_cluster(address: Address) -> Config:
    # OTLP/gRPC export: HTTP/2 without keepalive pings (the collector is no stream peer).
    return {
        "name": OTLP_CLUSTER,
        **discovery(address.host),
        "connect_timeout": "2s",
        "load_assignment": load_assignment(OTLP_CLUSTER, address.host, address.port),
        "typed_extension_protocol_options": http2_upstream(keepalive=False),
    }
