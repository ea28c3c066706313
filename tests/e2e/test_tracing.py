"""End to end: one trace follows a delivery through the mesh. The edge starts it, orders
and pricing continue it over gRPC metadata, dispatch over the delivery.created event's
envelope, and fleet over the Link's CourierOffer; every process exports to an OTLP
receiver inside this test process. The services' /metrics show the same calls with the
labels the dashboards select on."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import RunningMesh, start_mesh, stop_mesh
from tests.e2e.courier import ScriptedCourier
from tests.e2e.rest import call, delivery_request, point, sign_up
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

DRESDEN = (51.0504, 13.7373)
SERVER, CLIENT = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT
PRODUCER, CONSUMER = Span.SPAN_KIND_PRODUCER, Span.SPAN_KIND_CONSUMER
CREATE_DELIVERY = "/lastmile.orders.v1.OrdersService/CreateDelivery"
CREATE_QUOTE = "/lastmile.pricing.v1.PricingService/CreateQuote"
# Exporters batch; a short delay keeps the test's waits short (the SDK's default is 5 s).
TRACING_ENVIRONMENT = {"OTEL_BSP_SCHEDULE_DELAY": "200"}


class Traced:
    """The mesh and the receiver its services and edge export to."""

    def __init__(self, mesh: RunningMesh, receiver: OtlpReceiver) -> None:
        self.mesh, self.receiver = mesh, receiver


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def traced(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Traced]:
    receiver = OtlpReceiver()
    await receiver.start()
    environment = {**TRACING_ENVIRONMENT, "LASTMILE_OTLP_ENDPOINT": receiver.endpoint}
    # The receiver serves on this loop while the launcher starts in a thread.
    mesh = await asyncio.to_thread(
        start_mesh, "direct", tmp_path_factory.mktemp("mesh-tracing"), environment
    )
    try:
        yield Traced(mesh, receiver)
    finally:
        await asyncio.to_thread(stop_mesh, mesh)
        await receiver.stop()


def near(place: tuple[float, float], metres_north: float) -> tuple[float, float]:
    return place[0] + metres_north / 111_195, place[1]


def deliver_an_offer(mesh: RunningMesh) -> tuple[str, str]:
    """A courier online through the edge, a customer's delivery over REST without a quote
    (so orders asks pricing), and the offer the courier receives: (delivery id, offer id)."""
    customer = sign_up(mesh.base, "trace-customer@example.com", "ROLE_CUSTOMER")
    courier_token = sign_up(mesh.base, "trace-courier@example.com", "ROLE_COURIER")
    rider = ScriptedCourier(mesh.grpc_target, courier_token, "trace-courier")
    try:
        rider.go_online(*near(DRESDEN, 300))
        request = delivery_request(pickup=point(*DRESDEN), dropoff=point(*near(DRESDEN, 2_000)))
        assert "quoteId" not in request
        status, created = call(mesh.base, "POST", "/v1/deliveries", request, token=customer)
        assert status == 200, created
        offer = rider.expect("offer").offer
        assert offer.delivery_id == created["delivery"]["deliveryId"]
        return offer.delivery_id, offer.offer_id
    finally:
        rider.close()


def the_span(spans: list[ReceivedSpan], service: str, name: str, kind: int) -> ReceivedSpan:
    found = [s for s in spans if (s.service, s.name, s.kind) == (service, name, kind)]
    assert len(found) == 1, f"{service} {name}: {found}"
    return found[0]


def ancestors(span: ReceivedSpan, trace: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """The span's parent, its parent's parent, ... as far as the trace has them."""
    by_id = {s.span_id: s for s in trace}
    chain = []
    while (parent := by_id.get(span.parent_span_id)) is not None:
        chain.append(parent)
        span = parent
    return chain


async def test_one_trace_spans_edge_orders_pricing_and_continues_over_nats_to_dispatch_and_fleet(
    traced: Traced,
) -> None:
    receiver = traced.receiver
    await asyncio.to_thread(deliver_an_offer, traced.mesh)

    # The only offer of this module's mesh, so the only "fleet offer" span.
    def shown(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in spans if (s.service, s.name) == ("fleet", "fleet offer")]

    await receiver.wait_for(lambda spans: len(shown(spans)) == 1)
    trace_id = shown(receiver.spans)[0].trace_id
    wanted = {
        ("orders", CREATE_DELIVERY),
        ("pricing", CREATE_QUOTE),
        ("dispatch", "dispatch offer"),
    }

    def complete(spans: list[ReceivedSpan]) -> bool:
        here = {(s.service, s.name) for s in spans if s.trace_id == trace_id}
        return wanted <= here and any(service == "edge" for service, _ in here)

    await receiver.wait_for(complete, within=60)
    trace = receiver.of_trace(trace_id)

    # edge -> orders -> pricing over gRPC metadata: the edge started the trace, and its
    # traceparent went through the REST transcoder.
    orders = the_span(trace, "orders", CREATE_DELIVERY, SERVER)
    [edge] = ancestors(orders, trace)
    assert (edge.service, edge.parent_span_id) == ("edge", "")
    pricing = the_span(trace, "pricing", CREATE_QUOTE, SERVER)
    quote_path = ancestors(pricing, trace)
    assert quote_path[0] == the_span(trace, "orders", CREATE_QUOTE, CLIENT)
    assert quote_path[-2:] == [orders, edge]

    # ... orders -> NATS -> dispatch -> Link -> fleet, in the same trace.
    consumed = the_span(trace, "dispatch", "consume lastmile.delivery.created", CONSUMER)
    offered = the_span(trace, "dispatch", "dispatch offer", PRODUCER)
    offer_path = ancestors(the_span(trace, "fleet", "fleet offer", CONSUMER), trace)
    assert offer_path[:2] == [offered, consumed]
    assert offer_path[-2:] == [orders, edge]


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def per_rpc(service: str, method: str, **extra: str) -> tuple[tuple[str, str], ...]:
    labels = {"grpc_service": service, "grpc_method": method, "grpc_type": "unary", **extra}
    return tuple(sorted(labels.items()))


async def test_the_services_expose_per_rpc_metrics_for_those_calls_as_the_dashboards_select_them(
    traced: Traced,
) -> None:
    """The contract tests check the names in the registry; this checks a live service's
    /metrics after real calls, with the labels the RED dashboards and SLO rules use."""
    await asyncio.to_thread(create_a_delivery, traced.mesh)
    ports = traced.mesh.ports
    orders = await asyncio.to_thread(scrape, ports.admin("orders"))
    pricing = await asyncio.to_thread(scrape, ports.admin("pricing"))

    create = ("lastmile.orders.v1.OrdersService", "CreateDelivery")
    quote = ("lastmile.pricing.v1.PricingService", "CreateQuote")
    for metrics, (service, method) in ((orders, create), (pricing, quote)):
        assert metrics[("grpc_server_started_total", per_rpc(service, method))] >= 1
        done = per_rpc(service, method, grpc_code="OK")
        assert metrics[("grpc_server_handled_total", done)] >= 1
        assert metrics[("grpc_server_handling_seconds_count", done)] >= 1
        every = per_rpc(service, method, grpc_code="OK", le="+Inf")
        assert metrics[("grpc_server_handling_seconds_bucket", every)] >= 1


def create_a_delivery(mesh: RunningMesh) -> None:
    """A delivery (priced by pricing) of this test's own, far from any courier."""
    customer = sign_up(mesh.base, "metrics-customer@example.com", "ROLE_CUSTOMER")
    pickup, dropoff = near(DRESDEN, 50_000), near(DRESDEN, 52_000)
    request = delivery_request(pickup=point(*pickup), dropoff=point(*dropoff))
    status, created = call(mesh.base, "POST", "/v1/deliveries", request, token=customer)
    assert status == 200, created
