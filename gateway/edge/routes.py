"""The edge's route table, generated from the public surface of the contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.edge import filters
from gateway.edge.clusters import cluster_name
from gateway.edge.settings import EdgeSettings
from gateway.edge.surface import EdgeSurface, PublicMethod, PublicService, RateClass, Replay
from gateway.envoy_config import Config
from gateway.idempotency import IDEMPOTENCY_KEY_HEADER

# Routes match gRPC paths: REST requests reach the router after the transcoder has rewritten the
# path. The filters before the transcoder (CORS, buffer) see the original REST path instead, so
# every REST path has routes too: CORS answers a preflight only on a route that forwards, a
# client-streaming body (a JSON array) gets its larger limit there, and a method the path does
# not declare is answered there with 405.
#
# Retries, per gRPC route: every unary call is retried when it was not processed (connect
# failure, refused stream, UNAVAILABLE); after a reset only calls safe to send twice are
# (`Replay` in the surface): reads and idempotent methods on their own routes, and a method that
# honours an idempotency key on a route that matches a non-empty `idempotency-key` header,
# before the method's route without it. Streams are never retried.


@dataclass(frozen=True)
class StaticDocument:
    """A file served as is at an exact path, without a token (the API's documentation)."""

    path: str
    file: Path
    content_type: str


def route_config(
    settings: EdgeSettings, surface: EdgeSurface, documents: tuple[StaticDocument, ...]
) -> Config:
    routes = [_empty_query_name_route()]
    routes += [_document_route(document) for document in documents]
    routes += [_hidden_route(prefix) for prefix in surface.hidden_prefixes]
    routes += _rest_routes(settings, surface)
    for service in surface.public:
        for method in service.methods:
            if method.replay is Replay.WITH_KEY:
                routes.append(_keyed_method_route(settings, service, method))
            if (
                method.streaming
                or method.rate_class is not RateClass.GENERAL
                or method.replay is not Replay.NEVER
            ):
                routes.append(_method_route(settings, service, method))
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


# A query string holding `=value` with no name before it; the transcoder would silently skip
# that parameter (while it refuses one it does not know). A route before all others costs one
# regex match on :path per request, and the transcoded gRPC path (no query) never matches it.
EMPTY_QUERY_NAME = r"[^?]*\?(.*&)?=.*"


def _empty_query_name_route() -> Config:
    return {
        "name": "400 empty query parameter name",
        "match": {
            "prefix": "/",
            "headers": [
                {"name": ":path", "string_match": {"safe_regex": {"regex": EMPTY_QUERY_NAME}}}
            ],
        },
        # The local reply mapper wraps this in a google.rpc.Status.
        "direct_response": {
            "status": 400,
            "body": {
                "inline_string": "query parameter with an empty name: each parameter is "
                "name=value, and '=' must not follow '?' or '&' directly"
            },
        },
        # Answered here, before the transcoder could skip it, and wrong with any token.
        "typed_per_filter_config": {
            filters.TRANSCODER: filters.filter_disabled(),
            filters.JWT_AUTHN: filters.filter_disabled(),
        },
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
    """Per REST path: a route for its declared methods and browser preflights, then one that
    answers any other method with 405 and the `Allow` list."""
    paths: dict[str, _RestPath] = {}
    for service, method in ((s, m) for s in surface.public for m in s.methods):
        for binding in method.rest:
            rest_path = paths.setdefault(
                binding.path_regex,
                _RestPath(binding.path_regex, _action(settings, service, method)),
            )
            rest_path.methods.add(binding.http_method)
            rest_path.client_streaming |= method.client_streaming
    # `{id}` would also take `d-1:cancel`; like the transcoder, try custom verbs first.
    ordered = sorted(paths.values(), key=lambda rest_path: ":" not in rest_path.regex)
    return [route for rest_path in ordered for route in rest_path.routes(settings)]


@dataclass
class _RestPath:
    """One REST path template (as its regex), the HTTP methods bound to it, and where it goes."""

    regex: str
    action: Config
    methods: set[str] = field(default_factory=set)
    client_streaming: bool = False

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.methods))

    def routes(self, settings: EdgeSettings) -> list[Config]:
        path = {"safe_regex": {"regex": self.regex}}
        method = {"string_match": {"safe_regex": {"regex": "|".join(sorted(self.methods))}}}
        declared: Config = {
            "name": f"REST {self.regex}",
            "match": {**path, "headers": [{"name": ":method", **method}]},
            "route": self.action,
        }
        if self.client_streaming:
            # A JSON array of many messages; the transcoder streams its elements.
            declared["typed_per_filter_config"] = {
                filters.BUFFER: filters.buffer_limit(settings.max_streaming_request_bytes)
            }
        # CORS answers a preflight only on a route that forwards, so preflights get their own.
        preflight = {
            "name": f"preflight {self.regex}",
            "match": {
                **path,
                "headers": [
                    {"name": ":method", "string_match": {"exact": "OPTIONS"}},
                    {"name": "access-control-request-method", "present_match": True},
                ],
            },
            "route": self.action,
        }
        not_allowed = {
            "name": f"405 {self.regex}",
            "match": path,
            # The local reply mapper wraps this in a google.rpc.Status naming the method.
            "direct_response": {
                "status": 405,
                "body": {"inline_string": f"this path takes {self.allow}"},
            },
            "response_headers_to_add": [
                {
                    "header": {"key": "allow", "value": self.allow},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
            # Answered here: no RPC to transcode, and a wrong method is wrong with any token.
            "typed_per_filter_config": {
                filters.TRANSCODER: filters.filter_disabled(),
                filters.JWT_AUTHN: filters.filter_disabled(),
            },
        }
        return [declared, preflight, not_allowed]


def _method_route(settings: EdgeSettings, service: PublicService, method: PublicMethod) -> Config:
    route: Config = {
        "name": method.full_name,
        "match": {"path": method.grpc_path},
        "route": _action(settings, service, method),
    }
    if method.replay is Replay.ALWAYS:
        route |= _replay_buffer(settings)
    return _with_method_filters(settings, method, route)


def _keyed_method_route(
    settings: EdgeSettings, service: PublicService, method: PublicMethod
) -> Config:
    """A call that carries an idempotency key (REST header or gRPC metadata, non-empty): the
    service answers a repeat with what the first call did, so a reset is retried too."""
    key = {"name": IDEMPOTENCY_KEY_HEADER, "string_match": {"safe_regex": {"regex": ".+"}}}
    route: Config = {
        "name": f"{method.full_name} with an idempotency key",
        "match": {"path": method.grpc_path, "headers": [key]},
        "route": _unary_action(settings, service, replay_safe=True),
        **_replay_buffer(settings),
    }
    return _with_method_filters(settings, method, route)


def _with_method_filters(settings: EdgeSettings, method: PublicMethod, route: Config) -> Config:
    per_filter: Config = {}
    if method.client_streaming:
        # Native gRPC streams flow message by message; the server bounds each message.
        per_filter[filters.BUFFER] = filters.buffer_disabled()
    if method.rate_class is not RateClass.GENERAL:
        per_filter[filters.RATE_LIMIT] = filters.rate_limit(settings, method.rate_class)
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
    return _unary_action(settings, service, replay_safe=method.replay is Replay.ALWAYS)


# Failures that guarantee the call was not processed (see DESIGN §3): retried for any call.
NOT_PROCESSED = "connect-failure,refused-stream,unavailable"
# A reset (the replica died or dropped the connection mid-call) leaves unknown whether the
# call was processed: retried only for calls that are safe to send twice.
REPLAY_SAFE = f"{NOT_PROCESSED},reset"
NUM_RETRIES = 2


def _unary_action(
    settings: EdgeSettings, service: PublicService, *, replay_safe: bool = False
) -> Config:
    return {
        "cluster": cluster_name(service.upstream),
        # Not max_stream_duration.grpc_timeout_header_max: with it, a call without a
        # grpc-timeout header (every REST call) would have no deadline at all. A native
        # client's grpc-timeout still reaches the service, which enforces it. The timeout
        # covers every attempt; there is no per-try timeout, so a slow call is never sent
        # again while it may still be running.
        "timeout": f"{settings.unary_timeout_seconds}s",
        "retry_policy": {
            "retry_on": REPLAY_SAFE if replay_safe else NOT_PROCESSED,
            "num_retries": NUM_RETRIES,
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


def _replay_buffer(settings: EdgeSettings) -> Config:
    # A retry resends the request body, which the router keeps only up to the route's limit
    # (else the listener's 32 KiB): any body the edge accepts can be sent again.
    return {"request_body_buffer_limit": settings.max_request_bytes}


def _stream_action(settings: EdgeSettings, service: PublicService) -> Config:
    return {
        "cluster": cluster_name(service.upstream),
        # No deadline: a watch or a courier session lasts as long as the client wants.
        "timeout": "0s",
        "idle_timeout": f"{settings.stream_idle_timeout_seconds}s",
    }
