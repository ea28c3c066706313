"""The call counts and durations the pipeline keeps, as a Prometheus scrape reads them:
go-grpc-prometheus's names and labels, cumulative "le" buckets, a count and a sum."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.runtime.metrics import ServerCalls

LABELS = {"grpc_service": "lastmile.x.v1.X", "grpc_method": "Get", "grpc_type": "unary"}


def scraped(calls: ServerCalls) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(calls)
    return registry


def test_started_calls_are_counted_per_service_method_and_type() -> None:
    calls = ServerCalls()
    calls.started("lastmile.x.v1.X", "Get", "unary").count += 2
    calls.started("lastmile.x.v1.X", "Get", "unary").count += 1
    assert scraped(calls).get_sample_value("grpc_server_started_total", LABELS) == 3


def test_handled_calls_fill_cumulative_buckets_with_a_bound_counting_in_its_own_bucket() -> None:
    calls = ServerCalls()
    for seconds in (0.001, 0.002, 0.3, 100.0):
        calls.handled("lastmile.x.v1.X", "Get", "unary", "OK").observe(seconds)
    calls.handled("lastmile.x.v1.X", "Get", "unary", "NOT_FOUND").observe(0.004)
    registry = scraped(calls)
    ok = {**LABELS, "grpc_code": "OK"}

    def bucket(le: str) -> float | None:
        return registry.get_sample_value("grpc_server_handling_seconds_bucket", {**ok, "le": le})

    assert [bucket(le) for le in ("0.001", "0.0025", "0.25", "0.5", "60.0", "+Inf")] == [
        1, 2, 2, 3, 3, 4,
    ]  # fmt: skip
    assert registry.get_sample_value("grpc_server_handling_seconds_count", ok) == 4
    assert registry.get_sample_value("grpc_server_handling_seconds_sum", ok) == 100.303
    assert registry.get_sample_value("grpc_server_handled_total", ok) == 4
    not_found = {**LABELS, "grpc_code": "NOT_FOUND"}
    assert registry.get_sample_value("grpc_server_handled_total", not_found) == 1
