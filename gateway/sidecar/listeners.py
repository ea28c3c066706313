"""The sidecar's listeners: inbound mTLS (RBAC, to the app), one outbound per callee (h2c from
the app, mTLS onwards), plaintext Health/Check for probes, and Prometheus stats."""

from __future__ import annotations

from gateway.envoy_config import (
    HTTP_CONNECTION_MANAGER,
    Config,
    router,
    socket_address,
    typed,
)
from gateway.sidecar import routes
from gateway.sidecar.clusters import ADMIN_CLUSTER, APP_CLUSTER, outbound_cluster_name
from gateway.sidecar.placement import LOOPBACK, Placement
from gateway.sidecar.rbac import rbac_filter
from gateway.sidecar.tls import downstream_tls
from gateway.sidecar.topology import MeshTopology

# One JSON line per failed call (the app logs every call already), with the peer's identity.
_ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "rpc": "%REQ(:PATH)%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "peer": "%DOWNSTREAM_PEER_URI_SAN%",
    "upstream_host": "%UPSTREAM_HOST%",
}


def inbound_listener(placement: Placement, mesh: MeshTopology) -> Config:
    manager = _connection_manager(
        "inbound",
        routes.inbound_routes(APP_CLUSTER, mesh.served_methods(placement.service)),
        [rbac_filter(mesh.grants(placement.service))],
        keepalive=True,
    )
    # The app learns which workload called it (URI SAN) from x-forwarded-client-cert.
    manager["forward_client_cert_details"] = "SANITIZE_SET"
    manager["set_current_client_cert_details"] = {"uri": True}
    listener = _listener("inbound", placement.public_host, placement.inbound_port, manager)
    listener["filter_chains"][0]["transport_socket"] = downstream_tls(placement.certs)
    # `drain_listeners?inboundonly` drains this one while the app's outbound calls go on.
    listener["traffic_direction"] = "INBOUND"
    return listener


def outbound_listener(placement: Placement, mesh: MeshTopology, callee: str) -> Config:
    cluster = outbound_cluster_name(callee)
    methods = mesh.methods_called(placement.service, callee)
    manager = _connection_manager(
        f"outbound_{callee}", routes.outbound_routes(cluster, methods), [], keepalive=False
    )
    port = placement.outbound_ports[callee]
    listener = _listener(f"outbound_{callee}", LOOPBACK, port, manager)
    listener["traffic_direction"] = "OUTBOUND"
    return listener


def health_listener(placement: Placement) -> Config:
    manager = _connection_manager("health", routes.health_routes(APP_CLUSTER), [], keepalive=False)
    return _listener("health", placement.public_host, placement.health_port, manager)


def stats_listener(placement: Placement) -> Config:
    manager = _connection_manager(
        "stats", routes.stats_routes(ADMIN_CLUSTER), [], keepalive=False, codec="AUTO"
    )
    return _listener("stats", placement.public_host, placement.stats_port, manager)


def _listener(name: str, host: str, port: int, manager: Config) -> Config:
    return {
        "name": name,
        "address": socket_address(host, port),
        "filter_chains": [
            {"filters": [{"name": HTTP_CONNECTION_MANAGER, "typed_config": manager}]}
        ],
    }


def _connection_manager(
    stat_prefix: str,
    route_config: Config,
    filters: list[Config],
    *,
    keepalive: bool,
    codec: str = "HTTP2",
) -> Config:
    http2: Config = {"max_concurrent_streams": 1000}
    if keepalive:
        # Finds a calling sidecar that vanished (node lost) under an idle long-lived stream.
        http2["connection_keepalive"] = {"interval": "30s", "timeout": "10s"}
    return typed(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix=stat_prefix,
        codec_type=codec,
        http2_protocol_options=http2,
        # Unary calls idle this long are dead; stream routes switch it off (idle_timeout 0).
        stream_idle_timeout="300s",
        # No max_stream_duration here: a listener-wide cap would end long-lived streams.
        common_http_protocol_options={"idle_timeout": "3600s"},
        # On drain, GOAWAY first; connections then get this long before they are closed.
        drain_timeout="10s",
        route_config={"name": stat_prefix, **route_config},
        http_filters=[*filters, router()],
        access_log=[_failures_log()],
    )


def _failures_log() -> Config:
    failed = {
        "or_filter": {
            "filters": [
                {
                    "status_code_filter": {
                        "comparison": {
                            "op": "GE",
                            "value": {"default_value": 400, "runtime_key": "sidecar_unused"},
                        }
                    }
                },
                {"grpc_status_filter": {"statuses": ["OK"], "exclude": True}},
            ]
        }
    }
    return {
        "name": "envoy.access_loggers.stdout",
        "filter": failed,
        "typed_config": typed(
            "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            log_format={"json_format": _ACCESS_LOG_FORMAT},
        ),
    }
