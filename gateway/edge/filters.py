"""The edge's HTTP filter chain, and the per-route configs that tune its filters."""

from __future__ import annotations

from gateway.edge.clusters import JWKS_CLUSTER
from gateway.edge.settings import EdgeSettings, RateLimit
from gateway.edge.surface import EdgeSurface, RateClass
from gateway.envoy_config import Config, router, typed
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER

# Order matters. The transcoder rewrites a REST request into its gRPC form and clears the route
# cache, so the filters before it see the original path and the filters after it see the gRPC
# path. Authentication and rate limits come after it: REST and native gRPC share their rules.

HEADER_MUTATION = "envoy.filters.http.header_mutation"
CORS = "envoy.filters.http.cors"
BUFFER = "envoy.filters.http.buffer"
TRANSCODER = "envoy.filters.http.grpc_json_transcoder"
RATE_LIMIT = "envoy.filters.http.local_ratelimit"
JWT_AUTHN = "envoy.filters.http.jwt_authn"
GRPC_STATUS_CAPTURE = "envoy.filters.http.header_to_metadata"

JWT_PROVIDER = "identity"
# Only the edge may set these: the identity it verified, and the original REST request line.
SPOOFABLE_HEADERS = (
    ACCOUNT_ID_HEADER,
    ROLE_HEADER,
    "x-envoy-original-path",
    "x-envoy-original-method",
)
CORS_ALLOWED_HEADERS = ("authorization", "content-type", "idempotency-key", "x-request-id")
CORS_EXPOSED_HEADERS = (
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
)

_BUFFER_PER_ROUTE = "envoy.extensions.filters.http.buffer.v3.BufferPerRoute"
_LOCAL_RATE_LIMIT = "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"


def http_filters(
    settings: EdgeSettings, surface: EdgeSurface, open_paths: tuple[str, ...]
) -> list[Config]:
    """The chain, first to last; `open_paths` are non-RPC paths served without a token."""
    chain = [
        # First, so that no later filter, and no upstream, ever sees a client's copy.
        (HEADER_MUTATION, _header_sanitizer()),
        # Answers browser preflights before anything else could reject them.
        (CORS, typed("envoy.extensions.filters.http.cors.v3.Cors")),
        # Bounds the body before the transcoder holds it in memory (413 beyond the limit).
        (BUFFER, _buffer(settings.max_request_bytes)),
        (TRANSCODER, _transcoder(settings, surface)),
        # Buckets are per route class; routes and the virtual host carry them.
        (RATE_LIMIT, typed(_LOCAL_RATE_LIMIT, stat_prefix="edge_rate_limit")),
        (JWT_AUTHN, _jwt_authn(settings, surface, open_paths)),
        # Last, so that it sees the upstream's reply before the transcoder rewrites it.
        (GRPC_STATUS_CAPTURE, _grpc_status_capture()),
    ]
    return [*({"name": name, "typed_config": config} for name, config in chain), router()]


def _header_sanitizer() -> Config:
    return typed(
        "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        mutations={
            "request_mutations": [{"remove": header} for header in SPOOFABLE_HEADERS],
            "response_mutations": [_grpc_status_restored()],
        },
    )


# With convert_grpc_status the transcoder turns an error the upstream answered trailers-only
# into a JSON body and drops its grpc-status, so the access log's %GRPC_STATUS% would fall back
# to the HTTP code (400 -> Internal). The last filter remembers the upstream's grpc-status and
# the first puts it back where the transcoder took it away, as a transcoded success keeps its
# own `grpc-status: 0`.
_GRPC_STATUS_METADATA = ("lastmile.edge", "grpc_status")


def _grpc_status_capture() -> Config:
    namespace, key = _GRPC_STATUS_METADATA
    return typed(
        "envoy.extensions.filters.http.header_to_metadata.v3.Config",
        response_rules=[
            {
                "header": "grpc-status",
                "on_header_present": {"metadata_namespace": namespace, "key": key},
                "remove": False,
            }
        ],
    )


def _grpc_status_restored() -> Config:
    namespace, key = _GRPC_STATUS_METADATA
    return {
        "append": {
            "header": {"key": "grpc-status", "value": f"%DYNAMIC_METADATA({namespace}:{key})%"},
            # Only where it is missing; an empty value (nothing remembered) adds nothing.
            "append_action": "ADD_IF_ABSENT",
        }
    }


def _buffer(max_request_bytes: int) -> Config:
    return typed(
        "envoy.extensions.filters.http.buffer.v3.Buffer", max_request_bytes=max_request_bytes
    )


def _transcoder(settings: EdgeSettings, surface: EdgeSurface) -> Config:
    return typed(
        "envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
        proto_descriptor=str(settings.descriptor_set),
        services=[service.full_name for service in surface.public],
        convert_grpc_status=True,
        print_options={
            # Zero values (index 0, an empty page token) are data, not absence.
            "always_print_primitive_fields": True,
            "preserve_proto_field_names": False,
            "stream_sse_style_delimited": True,
        },
        request_validation_options={
            "reject_unknown_method": True,
            "reject_unknown_query_parameters": True,
            "reject_binding_body_field_collisions": True,
        },
        # The buffer filter already bounded the body; these bound the transcoder's own buffers.
        max_request_body_size=settings.max_streaming_request_bytes,
        max_response_body_size=settings.max_response_bytes,
    )


def _jwt_authn(settings: EdgeSettings, surface: EdgeSurface, open_paths: tuple[str, ...]) -> Config:
    provider = {
        "issuer": settings.issuer,
        "audiences": [settings.audience],
        "remote_jwks": {
            "http_uri": {"uri": settings.jwks_url, "cluster": JWKS_CLUSTER, "timeout": "2s"},
            "cache_duration": "300s",
            # Fetched at start and refreshed in the background, never on a request's path.
            "async_fetch": {"failed_refetch_duration": "2s"},
            "retry_policy": {
                "num_retries": 3,
                "retry_back_off": {"base_interval": "0.2s", "max_interval": "2s"},
            },
        },
        # Services read the verified identity from these headers; they never need the token.
        "forward": False,
        "claim_to_headers": [
            {"header_name": ACCOUNT_ID_HEADER, "claim_name": "sub"},
            {"header_name": ROLE_HEADER, "claim_name": "role"},
        ],
        # Verified tokens are remembered (until they expire), so repeat calls skip the crypto.
        "jwt_cache_config": {"jwt_cache_size": 4096},
    }
    open_rules = [{"match": {"path": path}} for path in open_paths]
    open_rules += [{"match": {"path": m.grpc_path}} for m in surface.methods if m.anonymous]
    # Hidden services are answered by the edge itself (UNIMPLEMENTED), token or not.
    open_rules += [{"match": {"prefix": prefix}} for prefix in surface.hidden_prefixes]
    required = {"match": {"prefix": "/"}, "requires": {"provider_name": JWT_PROVIDER}}
    return typed(
        "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        providers={JWT_PROVIDER: provider},
        rules=[*open_rules, required],
    )


def rate_limit(settings: EdgeSettings, rate_class: RateClass) -> Config:
    """The per-route config of one bucket; every route sharing this config shares the bucket."""
    limit = (
        settings.login_rate_limit if rate_class is RateClass.STRICT else settings.general_rate_limit
    )
    return _local_rate_limit(f"edge_rate_limit_{rate_class.value}", limit)


def _local_rate_limit(stat_prefix: str, limit: RateLimit) -> Config:
    everyone = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return typed(
        _LOCAL_RATE_LIMIT,
        stat_prefix=stat_prefix,
        token_bucket={
            "max_tokens": limit.requests,
            "tokens_per_fill": limit.requests,
            "fill_interval": f"{limit.per_seconds}s",
        },
        filter_enabled={**everyone, "runtime_key": f"{stat_prefix}_enabled"},
        filter_enforced={**everyone, "runtime_key": f"{stat_prefix}_enforced"},
        # UNAVAILABLE (the default for gRPC) invites an immediate retry; this does not.
        rate_limited_as_resource_exhausted=True,
        enable_x_ratelimit_headers="DRAFT_VERSION_03",
    )


def buffer_disabled() -> Config:
    return typed(_BUFFER_PER_ROUTE, disabled=True)


def buffer_limit(max_request_bytes: int) -> Config:
    return typed(_BUFFER_PER_ROUTE, buffer={"max_request_bytes": max_request_bytes})


def filter_disabled() -> Config:
    return typed("envoy.config.route.v3.FilterConfig", disabled=True)


def cors_policy(settings: EdgeSettings) -> Config:
    origins = [
        {"safe_regex": {"regex": ".*"}} if origin == "*" else {"exact": origin}
        for origin in settings.cors_allowed_origins
    ]
    return typed(
        "envoy.extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match=origins,
        allow_methods="GET, POST, PUT, PATCH, DELETE, OPTIONS",
        allow_headers=", ".join(CORS_ALLOWED_HEADERS),
        expose_headers=", ".join(CORS_EXPOSED_HEADERS),
        max_age="600",
    )
