"""The v1 contracts: buf lint and breaking checks, gen/ drift, the public/internal split
of HTTP rules, and the four RPC kinds where the design puts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from gateway import codegen

pytestmark = pytest.mark.slow
GEN = Path(codegen.ROOT) / "gen"


def lastmile_methods() -> dict[str, descriptor_pb2.MethodDescriptorProto]:
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(
        (GEN / codegen.DESCRIPTOR_SET).read_bytes()
    )
    methods = {}
    for file in descriptor_set.file:
        if not file.package.startswith("lastmile."):
            continue
        for service in file.service:
            for method in service.method:
                methods[f"{file.package}.{service.name}/{method.name}"] = method
    return methods


def has_http_rule(method: descriptor_pb2.MethodDescriptorProto) -> bool:
    return method.options.HasExtension(annotations_pb2.http)


def is_internal(full_method: str) -> bool:
    return full_method.split("/")[0].endswith("InternalService")


def kind(method: descriptor_pb2.MethodDescriptorProto) -> str:
    return {
        (False, False): "unary",
        (False, True): "server_stream",
        (True, False): "client_stream",
        (True, True): "bidi_stream",
    }[(method.client_streaming, method.server_streaming)]


def test_buf_lint_passes_the_standard_and_comment_rules() -> None:
    codegen.lint()


def test_no_breaking_change_against_the_released_baseline() -> None:
    codegen.breaking()


def test_gen_is_what_make_proto_produces_from_protos() -> None:
    assert codegen.drift(GEN) == []


def test_every_public_rpc_has_an_http_rule_and_no_internal_rpc_has_one() -> None:
    methods = lastmile_methods()
    assert methods, "the descriptor set holds no lastmile services"
    public_without = [m for m, d in methods.items() if not is_internal(m) and not has_http_rule(d)]
    internal_with = [m for m, d in methods.items() if is_internal(m) and has_http_rule(d)]
    assert public_without == []
    assert internal_with == []


@pytest.mark.parametrize(
    ("method", "expected_kind"),
    [
        ("lastmile.pricing.v1.PricingService/CreateQuote", "unary"),
        ("lastmile.orders.v1.OrdersService/CreateDelivery", "unary"),
        ("lastmile.orders.v1.OrdersService/GetDelivery", "unary"),
        ("lastmile.orders.v1.OrdersService/ImportDeliveries", "client_stream"),
        ("lastmile.tracking.v1.TrackingService/WatchDelivery", "server_stream"),
        ("lastmile.fleet.v1.CourierSessionService/Connect", "bidi_stream"),
        ("lastmile.dispatch.v1.DispatchInternalService/Link", "bidi_stream"),
    ],
)
def test_the_rpc_kinds_are_where_the_design_puts_them(method: str, expected_kind: str) -> None:
    methods = lastmile_methods()
    assert method in methods, f"{method} is missing; have {sorted(methods)}"
    assert kind(methods[method]) == expected_kind


def test_the_rest_surface_is_resource_oriented() -> None:
    routes = set()
    for method in lastmile_methods().values():
        if has_http_rule(method):
            rule = method.options.Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            routes.add(f"{verb.upper()} {getattr(rule, verb)}")
    assert {
        "POST /v1/accounts",
        "POST /v1/sessions",
        "GET /v1/me",
        "POST /v1/quotes",
        "POST /v1/deliveries",
        "GET /v1/deliveries/{delivery_id}",
        "GET /v1/deliveries",
        "POST /v1/deliveries/{delivery_id}:cancel",
        "POST /v1/deliveries:import",
        "GET /v1/deliveries/{delivery_id}:watch",
    } <= routes
    assert any(route.startswith("GET /v1/dispatch") for route in routes)
