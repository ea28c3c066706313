"""The sidecar's clusters: the local app, one per callee (mTLS, health-checked, with outlier
detection and circuit breakers), and the admin interface behind the stats listener."""

from __future__ import annotations

from gateway.envoy_config import (
    Config,
    discovery,
    endpoints_assignment,
    health_gated_balancing,
    http2_upstream,
    load_assignment,
)
from gateway.sidecar.placement import LOOPBACK, Placement
from gateway.sidecar.tls import grpc_health_check, plaintext_health_socket, upstream_tls

APP_CLUSTER = "local_app"
ADMIN_CLUSTER = "admin"


def outbound_cluster_name(callee: str) -> str:
    return f"outbound_{callee}"


def app_cluster(placement: Placement) -> Config:
    return {
        "name": APP_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": load_assignment(APP_CLUSTER, LOOPBACK, placement.app_port),
        # Loopback: no keepalive needed; the app's own drain ends its streams.
        "typed_extension_protocol_options": http2_upstream(keepalive=False),
        "circuit_breakers": {
            "thresholds": [
                {
                    # Every courier session or watch on this pod is one request for its whole
                    # life, so the cap is far above the default 1024; the app's own
                    # max_concurrent_streams and memory are the real bound.
                    "max_requests": 20_000,
                    "max_pending_requests": 1024,
                    "max_connections": 64,
                    # The inbound side never retries (the caller's sidecar does).
                    "max_retries": 3,
                }
            ]
        },
    }


def callee_cluster(placement: Placement, callee: str, health_service: str) -> Config:
    name = outbound_cluster_name(callee)
    peers = placement.endpoints(callee)
    host = peers[0].address.host
    return {
        "name": name,
        **discovery(host),
        # Headless Service (or, locally, every replica's sidecar): every ready pod, balanced
        # per request rather than per connection.
        "lb_policy": "ROUND_ROBIN",
        "connect_timeout": "2s",
        "load_assignment": endpoints_assignment(
            name, [(p.address.host, p.address.port, p.health_port) for p in peers]
        ),
        "transport_socket": upstream_tls(placement.certs, callee, host),
        "transport_socket_matches": [plaintext_health_socket()],
        "typed_extension_protocol_options": http2_upstream(),
        "health_checks": [grpc_health_check(health_service, plaintext=True)],
        **health_gated_balancing(callee),
        "outlier_detection": {
            # UNAVAILABLE counts as 503: a replica that keeps failing calls (or is unreachable)
            # sits out for a while even before its health check notices.
            "consecutive_5xx": 5,
            "consecutive_gateway_failure": 3,
            "enforcing_consecutive_gateway_failure": 100,
            "interval": "5s",
            "base_ejection_time": "15s",
            # Never eject the last half: a degraded callee beats none.
            "max_ejection_percent": 50,
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    # Sized for one app replica's traffic to one callee: up to ~1000 calls in
                    # flight plus the long-lived streams (one Link per fleet replica, few).
                    "max_requests": 2048,
                    "max_pending_requests": 512,
                    "max_connections": 256,
                    # Retries in flight at once; bounds a retry storm while a callee is down.
                    "max_retries": 16,
                }
            ]
        },
    }


def admin_cluster(placement: Placement) -> Config:
    return {
        "name": ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": load_assignment(ADMIN_CLUSTER, LOOPBACK, placement.admin_port),
    }
