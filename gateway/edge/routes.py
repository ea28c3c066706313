"""The edge's route table, generated from the public surface of the contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.edge import filters
from gateway.edge.clusters import cluster_name
from gateway.edge.settings import EdgeSettings
from gateway.edge.surface import EdgeSurface, PublicMethod, PublicService, RateClass
from gateway.envoy_config import Config

# Routes match gRPC paths: REST requests reach the router after the transcoder has rewritten the
# path. The filters before the transcoder (CORS, buffer) see the original REST path instead, so
# every REST path has a route too: CORS answers a preflight only on a route that forwards, and a
# client-streaming body (a JSON array) gets its larger limit there.


@dataclass(frozen=True)
class StaticDocument:
    """A file served as is at an exact path, without a token (the API's documentation)."""

    path: str
    file: Path
    content_type: str


def route_config(
    settings: EdgeSettings, surface: EdgeSurface, documents: tuple[StaticDocument, ...]
) -> Config:
    routes = [_document_route(document) for document in documents]
    routes += [_hidden_route(prefix) for prefix in surface.hidden_prefixes]
    routes += _rest_routes(settings, surface)
    for service in surface.public:
        routes += [
            _method_route(settings, service, method)
            for method in service.methods
            if method.streaming or method.rate_class is not RateClass.GENERAL
        ]
        routes.append(_service_route(settings, service))
    routes.append(_not_found_route())
    largest_document = max((document.file.stat().st_size for document in documents), default=0)
    return {
        "name": "lastmile_edge",
        # Direct responses are read into memory at load; the default cap is 4 KiB.
        "max_direct_response_body_size_bytes": max(largest_document, 4096),
        "virtual_hosts": [
            {
                "name": "lastmile",
                "domains": ["*"],
                "routes": routes,
                "typed_per_filter_config": {
                    filters.CORS: filters.cors_policy(settings),
                    filters.RATE_LIMIT: filters.rate_limit(settings, RateClass.GENERAL),
                },
            }
        ],
    }


def _document_route(document: StaticDocument) -> Config:
    return {
        "name": f"document {document.path}",
        "match": {"path": document.path},
        "direct_response": {"status": 200, "body": {"filename": str(document.file)}},
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": document.content_type},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
        # Not an RPC: the transcoder would answer 404 for a path no proto binds.
        "typed_per_filter_config": {filters.TRANSCODER: filters.filter_disabled()},
    }


def _hidden_route(prefix: str) -> Config:
    # gRPC clients see HTTP 404 as UNIMPLEMENTED, exactly what a server without the service says.
    return {
        "name": f"hidden {prefix}",
        "match": {"prefix": prefix},
        "direct_response": {"status": 404, "body": {"inline_string": "no such service"}},
        "typed_per_filter_config": {filters.BUFFER: filters.buffer_disabled()},
    }


def _not_found_route() -> Config:
    return {
        "name": "not found",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": "no such method"}},
    }


def _rest_routes(settings: EdgeSettings, surface: EdgeSurface) -> list[Config]:
    """One route per REST path, for any HTTP method (a preflight is an OPTIONS)."""
    routes: dict[str, Config] = {}
    for service, method in ((s, m) for s in surface.public for m in s.methods):
        for binding in method.rest:
            route = routes.setdefault(
                binding.path_regex,
                {
                    "name": f"REST {binding.path_regex}",
                    "match": {"safe_regex": {"regex": binding.path_regex}},
                    "route": _action(settings, service, method),
                },
            )
            if method.client_streaming:
                # A JSON array of many messages; the transcoder streams its elements.
                route["typed_per_filter_config"] = {
                    filters.BUFFER: filters.buffer_limit(settings.max_streaming_request_bytes)
                }
    # `{id}` would also take `d-1:cancel`; like the transcoder, try custom verbs first.
    return sorted(
        routes.values(), key=lambda route: ":" not in route["match"]["safe_regex"]["regex"]
    )


def _method_route(settings: EdgeSettings, service: PublicService, method: PublicMethod) -> Config:
    per_filter: Config = {}
    if method.client_streaming:
        # Native gRPC streams flow message by message; the server bounds each message.
        per_filter[filters.BUFFER] = filters.buffer_disabled()
    if method.rate_class is not RateClass.GENERAL:
        per_filter[filters.RATE_LIMIT] = filters.rate_limit(settings, method.rate_class)
    route: Config = {
        "name": method.full_name,
        "match": {"path": method.grpc_path},
        "route": _action(settings, service, method),
    }
    if per_filter:
        route["typed_per_filter_config"] = per_filter
    return route


def _service_route(settings: EdgeSettings, service: PublicService) -> Config:
    return {
        "name": service.full_name,
        "match": {"prefix": service.grpc_prefix},
        "route": _unary_action(settings, service),
    }


def _action(settings: EdgeSettings, service: PublicService, method: PublicMethod) -> Config:
    if method.streaming:
        return _stream_action(settings, service)
    return _unary_action(settings, service)


def _unary_action(settings: EdgeSettings, service: PublicService) -> Config:
    return {
        "cluster": cluster_name(service.upstream),
        # Not max_stream_duration.grpc_timeout_header_max: with it, a call without a
        # grpc-timeout header (every REST call) would have no deadline at all. A native
        # client's grpc-timeout still reaches the service, which enforces it.
        "timeout": f"{settings.unary_timeout_seconds}s",
        "retry_policy": {
            # Only failures that guarantee the call was not processed (see DESIGN §3).
            "retry_on": "connect-failure,refused-stream,unavailable",
            "num_retries": 2,
            "retry_host_predicate": [
                {
                    "name": "envoy.retry_host_predicates.previous_hosts",
                    "typed_config": {
                        "@type": "type.googleapis.com/"
                        "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                    },
                }
            ],
            "host_selection_retry_max_attempts": 3,
        },
    }


def _stream_action(settings: EdgeSettings, service: PublicService) -> Config:
    return {
        "cluster": cluster_name(service.upstream),
        # No deadline: a watch or a courier session lasts as long as the client wants.
        "timeout": "0s",
        "idle_timeout": f"{settings.stream_idle_timeout_seconds}s",
    }
