"""Route tables of the sidecar's listeners: deadlines and retries per method kind.

Unary calls have a deadline (the caller's grpc-timeout, capped); only idempotent ones are
retried on UNAVAILABLE. Streams have no deadline at all and no idle timeout: a courier
session or the fleet↔dispatch Link lasts as long as its peers live, and HTTP/2 keepalive on
every hop finds peers that died without closing.
"""

from __future__ import annotations

from gateway.envoy_config import Config, typed
from gateway.sidecar.topology import Method

UNARY_TIMEOUT = "15s"
# Three tries (with back-off) fit in the cap above; a caller's shorter deadline still wins.
PER_TRY_TIMEOUT = "5s"
NUM_RETRIES = 2
# Failures that prove the request never reached the app: safe to retry for any method.
NOT_SENT = "connect-failure,refused-stream"
# UNAVAILABLE and resets may come after the app started work: only for idempotent methods.
IDEMPOTENT_RETRY_ON = f"{NOT_SENT},reset,unavailable"
HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check"


def unary_action(cluster: str, method: Method | None) -> Config:
    """`method` None: a route for methods the topology does not know (no UNAVAILABLE retry)."""
    idempotent = method is not None and method.idempotent
    return {
        "cluster": cluster,
        # A cap for calls without grpc-timeout; the header, when smaller, wins.
        "timeout": UNARY_TIMEOUT,
        "max_stream_duration": {"grpc_timeout_header_max": UNARY_TIMEOUT},
        "retry_policy": {
            "retry_on": IDEMPOTENT_RETRY_ON if idempotent else NOT_SENT,
            "num_retries": NUM_RETRIES,
            "per_try_timeout": PER_TRY_TIMEOUT,
            "retry_back_off": {"base_interval": "0.025s", "max_interval": "0.25s"},
            # A retry goes to another replica when there is one.
            "retry_host_predicate": [
                {
                    "name": "envoy.retry_host_predicates.previous_hosts",
                    "typed_config": typed(
                        "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                    ),
                }
            ],
            "host_selection_retry_max_attempts": 3,
        },
    }


def stream_action(cluster: str) -> Config:
    # No route timeout, no max_stream_duration, no idle timeout: never cut a healthy stream.
    return {"cluster": cluster, "timeout": "0s", "idle_timeout": "0s"}


def method_route(cluster: str, method: Method) -> Config:
    action = stream_action(cluster) if method.streaming else unary_action(cluster, method)
    return {"name": method.path, "match": {"path": method.path}, "route": action}


def not_found(reason: str) -> Config:
    # gRPC clients see HTTP 404 as UNIMPLEMENTED.
    return {
        "name": "not found",
        "match": {"prefix": "/"},
        "direct_response": {"status": 404, "body": {"inline_string": reason}},
    }


def outbound_routes(cluster: str, methods: tuple[Method, ...]) -> Config:
    """The app's calls to one callee: exactly the methods the topology lets it call."""
    routes = [method_route(cluster, method) for method in methods]
    routes.append(not_found("not a call of this workload in the mesh topology"))
    return _route_config(routes)


def inbound_routes(cluster: str, methods: tuple[Method, ...]) -> Config:
    """Calls that passed RBAC, to the local app; per-method so that streams are never cut."""
    routes = [method_route(cluster, method) for method in methods if method.streaming]
    routes.append(
        {"name": "unary", "match": {"prefix": "/"}, "route": _inbound_unary_action(cluster)}
    )
    return _route_config(routes)


def _inbound_unary_action(cluster: str) -> Config:
    # The caller's sidecar has retried already; a second layer would multiply attempts.
    return {
        "cluster": cluster,
        "timeout": UNARY_TIMEOUT,
        "max_stream_duration": {"grpc_timeout_header_max": UNARY_TIMEOUT},
    }


def health_routes(cluster: str) -> Config:
    """The plaintext health listener: Health/Check and nothing else (no Watch, no RPCs)."""
    check = {
        "name": "health check",
        "match": {"path": HEALTH_CHECK_PATH},
        "route": {"cluster": cluster, "timeout": "2s"},
    }
    return _route_config([check, not_found("only grpc.health.v1.Health/Check is served here")])


def stats_routes(cluster: str) -> Config:
    scrape = {
        "name": "prometheus",
        "match": {"path": "/stats/prometheus"},
        "route": {"cluster": cluster, "timeout": "5s"},
    }
    return _route_config([scrape, not_found("only /stats/prometheus is served here")])


def _route_config(routes: list[Config]) -> Config:
    return {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]}
