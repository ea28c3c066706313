"""The edge's HTTP connection manager: protocols, timeouts, access log and error bodies."""

from __future__ import annotations

from pathlib import Path

from gateway.edge import filters
from gateway.edge.clusters import OTLP_CLUSTER
from gateway.edge.routes import StaticDocument, route_config
from gateway.edge.settings import EdgeSettings
from gateway.edge.surface import EdgeSurface
from gateway.envoy_config import Config

# Edge-generated errors (unknown path, missing token, limits) answer like the services do: a
# google.rpc.Status in JSON, with the gRPC code that maps back to the HTTP status.
_GRPC_CODE_OF_HTTP_STATUS = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    404: 5,  # NOT_FOUND
    413: 8,  # RESOURCE_EXHAUSTED
    429: 8,  # RESOURCE_EXHAUSTED
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}
_UNKNOWN = 2
_UNAUTHENTICATED = 16

# One JSON object per request. `path` is what the client asked for (the REST path before
# transcoding); `rpc` is the gRPC method it became.
_ACCESS_LOG_FORMAT = {
    "time": "%START_TIME%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "rpc": "%REQ(:PATH)%",
    "protocol": "%PROTOCOL%",
    "status": "%RESPONSE_CODE%",
    "grpc_status": "%GRPC_STATUS%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "bytes_in": "%BYTES_RECEIVED%",
    "bytes_out": "%BYTES_SENT%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_host": "%UPSTREAM_HOST%",
    "account_id": "%REQ(X-LASTMILE-ACCOUNT-ID)%",
    "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
    "user_agent": "%REQ(USER-AGENT)%",
}


def connection_manager(
    settings: EdgeSettings, surface: EdgeSurface, documents: tuple[StaticDocument, ...]
) -> Config:
    """The typed config of the listener's HttpConnectionManager."""
    manager: Config = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
        ".v3.HttpConnectionManager",
        "stat_prefix": "edge",
        # HTTP/1.1 and HTTP/2 with prior knowledge (h2c, native gRPC) on the same port.
        "codec_type": "AUTO",
        "use_remote_address": True,
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "request_headers_timeout": "10s",
        "stream_idle_timeout": "300s",
        "common_http_protocol_options": {
            "idle_timeout": "3600s",
            # `x_lastmile_role` must not slip past the sanitizer as a second spelling.
            "headers_with_underscores_action": "REJECT_REQUEST",
        },
        "http2_protocol_options": {
            "max_concurrent_streams": 100,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
            # Finds courier apps that vanished without closing their session stream.
            "connection_keepalive": {"interval": "60s", "timeout": "20s"},
        },
        "always_set_request_id_in_response": True,
        "server_name": "lastmile-edge",
        "access_log": [_access_log(settings.access_log_path)],
        "local_reply_config": _local_replies_as_status(),
        "route_config": route_config(settings, surface, documents),
        "http_filters": filters.http_filters(settings, surface, tuple(d.path for d in documents)),
    }
    if settings.otlp_endpoint is not None:
        manager["tracing"] = _tracing(settings.trace_sampling_percent)
    return manager


def _tracing(sampling_percent: float) -> Config:
    """Envoy's OpenTelemetry tracer, exporting to the collector cluster. `sampling_percent`
    of requests are sampled at random (100 locally: whoever turns tracing on wants to see
    each request; 1 in Kubernetes), and the services' parent-based samplers follow the
    edge's decision, sampled or not. One span per request (no separate upstream span);
    its context goes upstream as W3C traceparent, which the transcoder keeps as gRPC
    metadata."""
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {
                    "envoy_grpc": {"cluster_name": OTLP_CLUSTER},
                    "timeout": "2s",
                },
                "service_name": "edge",
            },
        },
        "random_sampling": {"value": sampling_percent},
    }


def _access_log(path: Path | None) -> Config:
    log_format = {"json_format": _ACCESS_LOG_FORMAT}
    if path is None:
        return {
            "name": "envoy.access_loggers.stdout",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3"
                ".StdoutAccessLog",
                "log_format": log_format,
            },
        }
    return {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": str(path),
            "log_format": log_format,
        },
    }


def _local_replies_as_status() -> Config:
    # Native gRPC callers get the plain message in grpc-message instead; a REST call keeps the
    # original path header after the transcoder has made it look like gRPC.
    not_native_grpc = {
        "or_filter": {
            "filters": [
                {
                    "header_filter": {
                        "header": {
                            "name": "content-type",
                            "string_match": {"prefix": "application/grpc"},
                            "invert_match": True,
                            "treat_missing_header_as_empty": True,
                        }
                    }
                },
                {
                    "header_filter": {
                        "header": {"name": "x-envoy-original-path", "present_match": True}
                    }
                },
            ]
        }
    }

    def mapper(op: str, status: int, code: int) -> Config:
        comparison = {"op": op, "value": {"default_value": status, "runtime_key": "edge_unused"}}
        status_filter = {"status_code_filter": {"comparison": comparison}}
        return {
            "filter": {"and_filter": {"filters": [status_filter, not_native_grpc]}},
            "body_format_override": {
                "json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%"},
                "content_type": "application/json",
            },
        }

    # jwt_authn answers a token for another audience with 403; it is as invalid as an expired
    # one (RFC 6750 invalid_token), and the edge sends no other 403 of its own.
    wrong_audience = {"status_code": 401, **mapper("EQ", 403, _UNAUTHENTICATED)}
    native_wrong_audience = {
        "filter": wrong_audience["filter"]["and_filter"]["filters"][0],
        "status_code": 401,
    }
    mappers = [wrong_audience, native_wrong_audience]
    mappers += [mapper("EQ", status, code) for status, code in _GRPC_CODE_OF_HTTP_STATUS.items()]
    # Anything else at or above 400; successful direct responses (documents) stay as they are.
    mappers.append(mapper("GE", 400, _UNKNOWN))
    return {"mappers": mappers}
