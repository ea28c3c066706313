"""The rendered edge config: generated from the contract, and accepted by the real Envoy."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway.access import ANONYMOUS_METHODS, STRICTLY_LIMITED_METHODS
from gateway.edge import Address, EdgeSettings, RateLimit, render_edge_config, write_edge_config
from gateway.edge.render import ENVOY
from gateway.edge.settings import DEFAULT_UPSTREAMS, DESCRIPTOR_SET
from gateway.edge.surface import EdgeSurface, edge_surface, path_regex
from gateway.proto_catalog import ProtoCatalog
from services.runtime.interceptors.auth_context import ACCOUNT_ID_HEADER, ROLE_HEADER

Config = dict[str, Any]

PUBLIC_SERVICES = {
    "lastmile.identity.v1.IdentityService": "identity",
    "lastmile.pricing.v1.PricingService": "pricing",
    "lastmile.orders.v1.OrdersService": "orders",
    "lastmile.fleet.v1.CourierSessionService": "fleet",
    "lastmile.dispatch.v1.DispatchService": "dispatch",
    "lastmile.tracking.v1.TrackingService": "tracking",
}


@pytest.fixture(scope="module")
def catalog() -> ProtoCatalog:
    return ProtoCatalog.from_descriptor_set(DESCRIPTOR_SET.read_bytes())


@pytest.fixture(scope="module")
def surface(catalog: ProtoCatalog) -> EdgeSurface:
    return edge_surface(catalog)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    docs_page = tmp_path_factory.mktemp("docs") / "docs.html"
    docs_page.write_text("<html></html>")
    return render_edge_config(EdgeSettings(), docs_page=docs_page)


def connection_manager(config: Config) -> Config:
    found: Config = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]
    return found


def http_filter(config: Config, name: str) -> Config:
    filters = connection_manager(config)["http_filters"]
    found: Config = next(f["typed_config"] for f in filters if f["name"] == name)
    return found


def routes(config: Config) -> list[Config]:
    found: list[Config] = connection_manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    return found


def route_for(config: Config, path: str) -> Config:
    """The first route whose path match (and :path header matcher, ignoring the other header
    matchers) takes `path`, as Envoy does."""
    for route in routes(config):
        match = route["match"]
        full_path = [h for h in match.get("headers", []) if h["name"] == ":path"]
        if any(not re.fullmatch(h["string_match"]["safe_regex"]["regex"], path) for h in full_path):
            continue
        if (
            match.get("path") == path
            or ("prefix" in match and path.startswith(match["prefix"]))
            or ("safe_regex" in match and re.fullmatch(match["safe_regex"]["regex"], path))
        ):
            return route
    raise AssertionError(f"no route takes {path}")


def test_every_public_service_and_no_internal_one_is_transcoded(config: Config) -> None:
    transcoder = http_filter(config, "envoy.filters.http.grpc_json_transcoder")

    assert set(transcoder["services"]) == set(PUBLIC_SERVICES)
    assert transcoder["convert_grpc_status"] is True
    assert transcoder["proto_descriptor"] == str(DESCRIPTOR_SET)
    assert transcoder["request_validation_options"]["reject_unknown_method"] is True
    assert transcoder["request_validation_options"]["reject_unknown_query_parameters"] is True
    assert transcoder["print_options"]["stream_sse_style_delimited"] is True


def test_every_public_method_is_routed_to_the_cluster_of_its_service(
    config: Config, surface: EdgeSurface
) -> None:
    assert len(surface.methods) > 10
    for method in surface.methods:
        route = route_for(config, method.grpc_path)
        expected = f"lastmile_{PUBLIC_SERVICES[method.service]}"
        assert route["route"]["cluster"] == expected, method.full_name


def test_internal_services_and_grpc_plumbing_are_answered_by_the_edge_itself(
    config: Config, catalog: ProtoCatalog
) -> None:
    internal = [name for name in catalog.services if name.endswith("InternalService")]
    paths = [f"/{name}/Anything" for name in internal] + ["/grpc.health.v1.Health/Check"]

    assert len(internal) == 5
    for path in paths:
        assert route_for(config, path)["direct_response"]["status"] == 404, path


def test_only_anonymous_methods_documents_and_dead_ends_are_open(
    config: Config, surface: EdgeSurface
) -> None:
    rules = http_filter(config, "envoy.filters.http.jwt_authn")["rules"]
    open_paths = {rule["match"].get("path") for rule in rules if "requires" not in rule}
    open_prefixes = {rule["match"].get("prefix") for rule in rules if "requires" not in rule}

    anonymous = {f"/{name}" for name in ANONYMOUS_METHODS}
    assert open_paths - {None} == anonymous | {"/openapi.json", "/docs"}
    assert open_prefixes - {None} == set(surface.hidden_prefixes)
    assert rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": "identity"}}


def test_the_verified_claims_become_the_identity_headers(config: Config) -> None:
    provider = http_filter(config, "envoy.filters.http.jwt_authn")["providers"]["identity"]

    assert provider["issuer"] == "https://identity.lastmile.dev"
    assert provider["audiences"] == ["lastmile"]
    assert provider["claim_to_headers"] == [
        {"header_name": ACCOUNT_ID_HEADER, "claim_name": "sub"},
        {"header_name": ROLE_HEADER, "claim_name": "role"},
    ]
    assert provider["remote_jwks"]["http_uri"]["uri"] == (
        "http://127.0.0.1:9450/.well-known/jwks.json"
    )


def test_client_copies_of_the_identity_headers_are_removed_by_the_first_filter(
    config: Config,
) -> None:
    first = connection_manager(config)["http_filters"][0]
    mutations = first["typed_config"]["mutations"]["request_mutations"]
    removed = {m["remove"] for m in mutations if "remove" in m}

    assert first["name"] == "envoy.filters.http.header_mutation"
    assert {ACCOUNT_ID_HEADER, ROLE_HEADER} <= removed


def test_the_first_filter_drops_every_header_name_grpc_metadata_cannot_carry(
    config: Config,
) -> None:
    first = connection_manager(config)["http_filters"][0]
    mutations = first["typed_config"]["mutations"]["request_mutations"]
    [dropped] = [m["remove_on_match"] for m in mutations if "remove_on_match" in m]
    regex = dropped["key_matcher"]["safe_regex"]["regex"]

    assert all(re.fullmatch(regex, f"x{character}y") for character in "!#$%&'*+^`|~")
    kept = (":path", ":authority", "x-request-id", "grpc-timeout", "idempotency-key", "a.b_c-9")
    assert not any(re.fullmatch(regex, name) for name in kept)


def test_a_query_with_an_empty_parameter_name_is_refused_before_any_other_route(
    config: Config,
) -> None:
    first = routes(config)[0]

    assert first["direct_response"]["status"] == 400
    assert route_for(config, "/v1/deliveries?=x") is first
    assert route_for(config, "/v1/deliveries?pageSize=2&=x") is first
    for path in (
        "/v1/deliveries?pageSize=2",
        "/v1/deliveries?pageToken=a=b",
        "/lastmile.orders.v1.OrdersService/ListDeliveries",
    ):
        assert route_for(config, path) is not first, path


def test_log_in_draws_from_the_strict_bucket_and_the_rest_from_the_general_one(
    config: Config,
) -> None:
    (login,) = STRICTLY_LIMITED_METHODS
    strict = route_for(config, f"/{login}")["typed_per_filter_config"]
    general = connection_manager(config)["route_config"]["virtual_hosts"][0]
    bucket = "envoy.filters.http.local_ratelimit"

    assert strict[bucket]["token_bucket"]["max_tokens"] == 20
    assert general["typed_per_filter_config"][bucket]["token_bucket"]["max_tokens"] == 2000
    assert "typed_per_filter_config" not in route_for(
        config, "/lastmile.pricing.v1.PricingService/"
    )


def test_streams_have_no_deadline_and_unary_calls_do(config: Config, surface: EdgeSurface) -> None:
    for method in surface.methods:
        action = route_for(config, method.grpc_path)["route"]
        assert action["timeout"] == ("0s" if method.streaming else "15.0s"), method.full_name
        if method.streaming:
            assert action["idle_timeout"] == "3600.0s"


def test_a_rest_import_has_the_larger_body_limit(config: Config) -> None:
    limits = route_for(config, "/v1/deliveries:import")["typed_per_filter_config"]

    assert limits["envoy.filters.http.buffer"]["buffer"]["max_request_bytes"] == 8 * 1024 * 1024
    assert http_filter(config, "envoy.filters.http.buffer")["max_request_bytes"] == 64 * 1024


def test_each_rest_path_answers_its_undeclared_methods_with_405_and_its_allow_list(
    config: Config, surface: EdgeSurface
) -> None:
    declared: dict[str, set[str]] = {}
    for binding in (binding for method in surface.methods for binding in method.rest):
        declared.setdefault(binding.path_regex, set()).add(binding.http_method)
    names = [route["name"] for route in routes(config)]
    not_allowed = {
        route["match"]["safe_regex"]["regex"]: route
        for route in routes(config)
        if route.get("direct_response", {}).get("status") == 405
    }

    assert set(not_allowed) == set(declared)
    for regex, methods in declared.items():
        route = not_allowed[regex]
        [allow] = route["response_headers_to_add"]
        assert allow["header"] == {"key": "allow", "value": ", ".join(sorted(methods))}
        assert set(route["typed_per_filter_config"]) == {
            "envoy.filters.http.grpc_json_transcoder",
            "envoy.filters.http.jwt_authn",
        }
        # After the routes that take the declared methods and the preflights.
        assert names.index(f"REST {regex}") < names.index(f"405 {regex}")
        assert names.index(f"preflight {regex}") < names.index(f"405 {regex}")


def test_each_upstream_is_an_http2_cluster_with_grpc_health_checks(config: Config) -> None:
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}

    for service, upstream in PUBLIC_SERVICES.items():
        cluster = clusters[f"lastmile_{upstream}"]
        options = cluster["typed_extension_protocol_options"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ]["explicit_http_config"]["http2_protocol_options"]
        assert options["connection_keepalive"]["interval"] == "30s"
        assert cluster["health_checks"][0]["grpc_health_check"] == {"service_name": service}
        assert cluster["circuit_breakers"]["thresholds"][0]["max_requests"] == 10_000
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        assert endpoint["address"]["socket_address"] == {
            "address": "127.0.0.1",
            "port_value": DEFAULT_UPSTREAMS[upstream].port,
        }


def test_tracing_is_off_unless_a_collector_is_given(config: Config) -> None:
    clusters = {c["name"] for c in config["static_resources"]["clusters"]}

    assert "tracing" not in connection_manager(config)
    assert "otlp_collector" not in clusters


def test_with_a_collector_every_request_is_traced_as_the_edge_and_exported_over_otlp_grpc(
    tmp_path: Path,
) -> None:
    settings = EdgeSettings(otlp_endpoint=Address("otel-collector.observability.svc", 4317))
    (tmp_path / "docs.html").write_text("<html></html>")
    config = render_edge_config(settings, docs_page=tmp_path / "docs.html")
    tracing = connection_manager(config)["tracing"]
    provider = tracing["provider"]
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}

    assert provider["name"] == "envoy.tracers.opentelemetry"
    assert provider["typed_config"]["service_name"] == "edge"
    assert provider["typed_config"]["grpc_service"]["envoy_grpc"] == {
        "cluster_name": "otlp_collector"
    }
    assert tracing["random_sampling"] == {"value": 100}
    collector = clusters["otlp_collector"]
    endpoint = collector["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {
        "address": "otel-collector.observability.svc",
        "port_value": 4317,
    }
    assert collector["type"] == "STRICT_DNS"
    (options,) = collector["typed_extension_protocol_options"].values()
    # HTTP/2 without keepalive pings: the collector holds no long-lived stream.
    assert options["explicit_http_config"] == {"http2_protocol_options": {}}


def test_the_admin_interface_listens_on_loopback_only(config: Config) -> None:
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


@pytest.mark.parametrize("percent", [-1.0, 100.5])
def test_a_trace_sampling_share_outside_0_to_100_percent_is_refused_by_name(percent: float) -> None:
    with pytest.raises(ValueError, match="trace_sampling_percent"):
        EdgeSettings(trace_sampling_percent=percent)


def test_a_service_without_an_upstream_address_is_refused_by_name(tmp_path: Path) -> None:
    upstreams = {k: v for k, v in DEFAULT_UPSTREAMS.items() if k != "tracking"}

    with pytest.raises(ValueError, match="tracking"):
        render_edge_config(EdgeSettings(upstreams=upstreams), docs_page=tmp_path / "docs.html")


def test_access_policy_naming_a_method_no_public_service_has_is_refused(
    catalog: ProtoCatalog,
) -> None:
    with pytest.raises(ValueError, match="OrdersInternalService/AssignCourier"):
        edge_surface(
            catalog,
            anonymous_methods=frozenset({"lastmile.orders.v1.OrdersInternalService/AssignCourier"}),
        )


@pytest.mark.parametrize(
    ("template", "matching", "not_matching"),
    [
        ("/v1/quotes", ["/v1/quotes"], ["/v1/quotes/x", "/v1/quotesx"]),
        (
            "/v1/deliveries/{delivery_id}:cancel",
            ["/v1/deliveries/d-1:cancel"],
            ["/v1/deliveries/a/b:cancel", "/v1/deliveries/d-1"],
        ),
        ("/v1/{name=shelves/*/books/*}", ["/v1/shelves/s/books/b"], ["/v1/shelves/s"]),
    ],
)
def test_a_path_template_becomes_a_regex_for_exactly_its_paths(
    template: str, matching: list[str], not_matching: list[str]
) -> None:
    regex = path_regex(template)

    assert all(re.fullmatch(regex, path) for path in matching)
    assert not any(re.fullmatch(regex, path) for path in not_matching)


def test_the_docs_page_lists_every_operation_of_the_openapi_document(tmp_path: Path) -> None:
    write_edge_config(EdgeSettings(), tmp_path)
    page = (tmp_path / "docs.html").read_text()

    for operation_id in ("PricingService_CreateQuote", "TrackingService_WatchDelivery"):
        assert f'id="{operation_id}"' in page
    assert "<script" not in page


def _variants(tmp_path: Path) -> Iterator[tuple[str, EdgeSettings]]:
    yield "local defaults", EdgeSettings()
    yield (
        "kubernetes names",
        EdgeSettings(
            upstreams={name: Address(f"{name}.lastmile.svc", 50051) for name in DEFAULT_UPSTREAMS},
            listen=Address("0.0.0.0", 8080),
            jwks_url="http://identity.lastmile.svc:9450/.well-known/jwks.json",
            cors_allowed_origins=("*",),
        ),
    )
    yield (
        "test edge",
        replace(
            EdgeSettings(),
            access_log_path=tmp_path / "access.log",
            login_rate_limit=RateLimit(requests=3, per_seconds=0.5),
            max_request_bytes=4096,
            max_streaming_request_bytes=65536,
            unary_timeout_seconds=2.5,
            issuer="https://identity.example",
        ),
    )
    yield "tracing", EdgeSettings(otlp_endpoint=Address("127.0.0.1", 4317))


@pytest.mark.slow
def test_envoy_accepts_every_rendered_variant(tmp_path: Path) -> None:
    for name, settings in _variants(tmp_path):
        config = write_edge_config(settings, tmp_path / name.replace(" ", "-"))
        result = subprocess.run(
            [
                str(ENVOY),
                "--mode",
                "validate",
                "--config-path",
                str(config),
                "--disable-hot-restart",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert "OK" in result.stdout


def route_taking(config: Config, path: str, headers: dict[str, str]) -> Config:
    """The first route that takes a request for `path` with exactly `headers`, matching
    every header matcher of it as Envoy does (the forms the edge renders)."""
    for route in routes(config):
        match = route["match"]
        if not (
            match.get("path") == path
            or ("prefix" in match and path.startswith(match["prefix"]))
            or ("safe_regex" in match and re.fullmatch(match["safe_regex"]["regex"], path))
        ):
            continue
        request = {":path": path, ":method": "POST", **headers}
        if all(_header_matches(matcher, request) for matcher in match.get("headers", [])):
            return route
    raise AssertionError(f"no route takes {path} with {headers}")


def _header_matches(matcher: Config, request: dict[str, str]) -> bool:
    value = request.get(matcher["name"])
    if "present_match" in matcher:
        return (value is not None) is bool(matcher["present_match"])
    if value is None:
        return False
    string_match = matcher["string_match"]
    if "exact" in string_match:
        return bool(value == string_match["exact"])
    return re.fullmatch(string_match["safe_regex"]["regex"], value) is not None


def retried_on(route: Config) -> set[str]:
    policy = route.get("route", {}).get("retry_policy")
    return set(policy["retry_on"].split(",")) if policy else set()


NOT_PROCESSED = {"connect-failure", "refused-stream", "unavailable"}
# Reads, and a pure function (a quote is signed, not stored): safe to send twice.
REPLAYED_ALWAYS = {
    "lastmile.dispatch.v1.DispatchService/GetOverview",
    "lastmile.dispatch.v1.DispatchService/ListQueuedDeliveries",
    "lastmile.identity.v1.IdentityService/GetCurrentAccount",
    "lastmile.orders.v1.OrdersService/GetDelivery",
    "lastmile.orders.v1.OrdersService/ListDeliveries",
    "lastmile.pricing.v1.PricingService/CreateQuote",
}
CREATE_DELIVERY = "/lastmile.orders.v1.OrdersService/CreateDelivery"


def test_a_reset_is_retried_for_reads_and_idempotent_methods_and_for_no_other_unkeyed_call(
    config: Config, surface: EdgeSurface
) -> None:
    for method in (m for m in surface.methods if not m.streaming):
        for headers in ({}, {"idempotency-key": ""}):
            route = route_taking(config, method.grpc_path, headers)
            expected = NOT_PROCESSED | ({"reset"} if method.full_name in REPLAYED_ALWAYS else set())
            assert retried_on(route) == expected, (method.full_name, headers)
    unary = {m.full_name for m in surface.methods if not m.streaming}
    assert unary > REPLAYED_ALWAYS


def test_a_create_with_an_idempotency_key_is_retried_after_a_reset_and_one_without_is_not(
    config: Config,
) -> None:
    keyed = route_taking(config, CREATE_DELIVERY, {"idempotency-key": "order-1"})
    unkeyed = route_taking(config, CREATE_DELIVERY, {})

    assert retried_on(keyed) == NOT_PROCESSED | {"reset"}
    assert retried_on(unkeyed) == NOT_PROCESSED
    for route in (keyed, unkeyed):
        assert route["route"]["cluster"] == "lastmile_orders"
        assert route["route"]["timeout"] == "15.0s"
        assert route["route"]["retry_policy"]["num_retries"] == 2
        assert "per_try_timeout" not in route["route"]["retry_policy"]
    # Only the key's own method: a key on a call that does not honour it changes nothing.
    cancel = "/lastmile.orders.v1.OrdersService/CancelDelivery"
    assert retried_on(route_taking(config, cancel, {"idempotency-key": "k"})) == NOT_PROCESSED


def test_streams_are_never_retried_even_with_an_idempotency_key(
    config: Config, surface: EdgeSurface
) -> None:
    streams = [m for m in surface.methods if m.streaming]
    assert {m.name for m in streams} >= {"Connect", "ImportDeliveries", "WatchDelivery"}
    for method in streams:
        route = route_taking(config, method.grpc_path, {"idempotency-key": "k"})
        assert "retry_policy" not in route["route"], method.full_name


def test_every_route_retried_after_a_reset_keeps_any_body_the_edge_accepts_for_the_retry(
    config: Config,
) -> None:
    # REST calls reach the router with their gRPC path, after the transcoder.
    grpc_routes = [route for route in routes(config) if "path" in route["match"]]
    replayed = [route for route in grpc_routes if "reset" in retried_on(route)]
    assert {route["match"]["path"] for route in replayed} == {
        *(f"/{name}" for name in REPLAYED_ALWAYS),
        CREATE_DELIVERY,
    }
    for route in replayed:
        assert route["request_body_buffer_limit"] == 64 * 1024, route["name"]


def test_only_the_dispatch_cluster_never_routes_to_a_host_that_fails_its_health_check(
    config: Config,
) -> None:
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}

    dispatch = clusters["lastmile_dispatch"]["common_lb_config"]
    assert dispatch == {"healthy_panic_threshold": {"value": 0}}
    for upstream in set(PUBLIC_SERVICES.values()) - {"dispatch"}:
        assert "common_lb_config" not in clusters[f"lastmile_{upstream}"], upstream
