"""The edge's HTTP connection manager: protocols, timeouts, access log and error bodies."""

from __future__ import annotations

import base64
from pathlib import Path

from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

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


# Edge 400s whose own text is empty or bare ("Bad Request"), and what to tell the client.
_MALFORMED_PATH = (
    "malformed request path: it holds an escaped slash or backslash, an escaped NUL, a '#', "
    "or '..' segments that climb above the root; encode identifiers without them"
)
_MALFORMED_HTTP = (
    "malformed HTTP request (%RESPONSE_CODE_DETAILS%): the request line or a header holds a "
    "byte HTTP does not allow there (percent-encode the path as UTF-8), or a header name holds "
    "an underscore"
)
# Any other 400 the edge answers without the transcoder, which always explains its own.
_REFUSED = "the edge refused the request (%RESPONSE_CODE_DETAILS%)"
_NOT_ALLOWED = "method %REQ(:METHOD)% is not allowed here: %LOCAL_REPLY_BODY%"
# The buffer filter's own text is a bare "Payload Too Large".
_TOO_LARGE = (
    "the request body is larger than the edge accepts for this method (%RESPONSE_CODE_DETAILS%)"
)
# A 503 of the edge's own (the service is down or restarting, no healthy host, every retry
# spent) asks the client to come back, as the services' own UNAVAILABLE does: RetryInfo in
# the Status, and Retry-After for plain HTTP clients.
_RETRY_DELAY_SECONDS = 1
_UNAVAILABLE = 14
_UNAVAILABLE_MESSAGE = f"the service is unavailable; retry in {_RETRY_DELAY_SECONDS} s"
_INVALID_ARGUMENT = 3
_RESOURCE_EXHAUSTED = 8
_UNIMPLEMENTED = 12


def _local_replies_as_status() -> Config:
    # Native gRPC callers get the plain message in grpc-message instead; a REST call keeps the
    # original path header after the transcoder has made it look like gRPC.
    grpc_content_type = {
        "name": "content-type",
        "string_match": {"prefix": "application/grpc"},
    }
    transcoded = {"name": "x-envoy-original-path", "present_match": True}
    not_native_grpc = {
        "or_filter": {
            "filters": [
                {
                    "header_filter": {
                        "header": {
                            **grpc_content_type,
                            "invert_match": True,
                            "treat_missing_header_as_empty": True,
                        }
                    }
                },
                {"header_filter": {"header": transcoded}},
            ]
        }
    }
    native_grpc = {
        "and_filter": {
            "filters": [
                {"header_filter": {"header": grpc_content_type}},
                {"header_filter": {"header": {**transcoded, "invert_match": True}}},
            ]
        }
    }

    def status_is(op: str, status: int) -> Config:
        comparison = {"op": op, "value": {"default_value": status, "runtime_key": "edge_unused"}}
        return {"status_code_filter": {"comparison": comparison}}

    def all_of(*conditions: Config) -> Config:
        return {"and_filter": {"filters": list(conditions)}}

    def as_status(code: int, message: str = "%LOCAL_REPLY_BODY%") -> Config:
        return {
            "json_format": {"code": code, "message": message},
            "content_type": "application/json",
        }

    def mapper(op: str, status: int, code: int) -> Config:
        return {
            "filter": all_of(status_is(op, status), not_native_grpc),
            "headers_to_add": [_grpc_status_header(code)],
            "body_format_override": as_status(code),
        }

    # jwt_authn answers a token for another audience with 403; it is as invalid as an expired
    # one (RFC 6750 invalid_token), and the edge sends no other 403 of its own.
    wrong_audience = {"status_code": 401, **mapper("EQ", 403, _UNAUTHENTICATED)}
    native_wrong_audience = {"filter": status_is("EQ", 403), "status_code": 401}
    path_rejected = _code_details("== 'path_normalization_failed'")
    # The HTTP/1 codec's own text is a bare "Bad Request".
    codec_rejected = _code_details(".startsWith('http1.')")
    not_transcoder = _code_details(".contains('grpc_json_transcode_failure') == false")
    # The route table's own refusals (an empty query parameter name) say why in their body.
    refused_by_route = _code_details(" == 'direct_response'")
    mappers = [
        wrong_audience,
        native_wrong_audience,
        # The connection manager rejects such paths before any filter, with an empty body.
        {
            "filter": all_of(path_rejected, not_native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": as_status(_INVALID_ARGUMENT, _MALFORMED_PATH),
        },
        # Without a grpc-status of its own, a gRPC local reply's status is derived from the
        # HTTP code, and 400 maps to INTERNAL; the caller sent a bad request.
        {
            "filter": all_of(path_rejected, native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": {"text_format": _MALFORMED_PATH},
        },
        {
            "filter": all_of(status_is("EQ", 400), refused_by_route, native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": {"text_format": "%LOCAL_REPLY_BODY%"},
        },
        {
            "filter": all_of(status_is("EQ", 400), native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": {"text_format": _REFUSED},
        },
        # 413 would become UNKNOWN; the service itself answers an oversized message with
        # RESOURCE_EXHAUSTED, and so does the edge.
        {
            "filter": all_of(status_is("EQ", 413), native_grpc),
            "headers_to_add": [_grpc_status_header(_RESOURCE_EXHAUSTED)],
            "body_format_override": {"text_format": _TOO_LARGE},
        },
        {
            "filter": all_of(status_is("EQ", 413), not_native_grpc),
            "headers_to_add": [_grpc_status_header(_RESOURCE_EXHAUSTED)],
            "body_format_override": as_status(_RESOURCE_EXHAUSTED, _TOO_LARGE),
        },
        {
            "filter": all_of(status_is("EQ", 400), codec_rejected),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": as_status(_INVALID_ARGUMENT, _MALFORMED_HTTP),
        },
        {
            "filter": all_of(status_is("EQ", 400), refused_by_route, not_native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": as_status(_INVALID_ARGUMENT),
        },
        {
            "filter": all_of(status_is("EQ", 400), not_transcoder, not_native_grpc),
            "headers_to_add": [_grpc_status_header(_INVALID_ARGUMENT)],
            "body_format_override": as_status(_INVALID_ARGUMENT, _REFUSED),
        },
        {
            "filter": all_of(status_is("EQ", 405), not_native_grpc),
            "headers_to_add": [_grpc_status_header(_UNIMPLEMENTED)],
            "body_format_override": as_status(_UNIMPLEMENTED, _NOT_ALLOWED),
        },
    ]
    unavailable = status_is("EQ", 503)
    mappers += _unavailable_replies(
        rest=all_of(unavailable, not_native_grpc), native=all_of(unavailable, native_grpc)
    )
    mappers += [mapper("EQ", status, code) for status, code in _GRPC_CODE_OF_HTTP_STATUS.items()]
    # Anything else at or above 400; successful direct responses (documents) stay as they are.
    mappers.append(mapper("GE", 400, _UNKNOWN))
    return {"mappers": mappers}


def _unavailable_replies(*, rest: Config, native: Config) -> list[Config]:
    """The edge's own 503: for REST a Status with RetryInfo (and Retry-After); for native gRPC
    UNAVAILABLE with the same Status in grpc-status-details-bin, whose message must equal
    grpc-message (clients check), hence a fixed text there."""
    retry_after = {
        "header": {"key": "retry-after", "value": str(_RETRY_DELAY_SECONDS)},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
    }
    delay = f"{_RETRY_DELAY_SECONDS}s"
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    details = any_pb2.Any()
    details.Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=_RETRY_DELAY_SECONDS))
    )
    status = status_pb2.Status(code=_UNAVAILABLE, message=_UNAVAILABLE_MESSAGE, details=[details])
    encoded = base64.b64encode(status.SerializeToString()).decode().rstrip("=")
    return [
        {
            "filter": rest,
            "headers_to_add": [_grpc_status_header(_UNAVAILABLE), retry_after],
            "body_format_override": {
                "json_format": {
                    "code": _UNAVAILABLE,
                    "message": "%LOCAL_REPLY_BODY%",
                    "details": [retry_info],
                },
                "content_type": "application/json",
            },
        },
        {
            "filter": native,
            "headers_to_add": [
                _grpc_status_header(_UNAVAILABLE),
                {
                    "header": {"key": "grpc-status-details-bin", "value": encoded},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                },
            ],
            "body_format_override": {"text_format": _UNAVAILABLE_MESSAGE},
        },
    ]


def _code_details(condition: str) -> Config:
    """A filter on %RESPONSE_CODE_DETAILS% (a CEL `condition` on it), the only trace some
    rejections leave."""
    return {
        "extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3"
                ".ExpressionFilter",
                "expression": f"response.code_details{condition}",
            },
        }
    }


def _grpc_status_header(code: int) -> Config:
    """The status the reply stands for: a gRPC caller's status, and for REST the same code as
    the body's, so that the access log's %GRPC_STATUS% names it rather than guessing from the
    HTTP code (a transcoder 400 is INVALID_ARGUMENT, not INTERNAL)."""
    return {
        "header": {"key": "grpc-status", "value": str(code)},
        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
    }
