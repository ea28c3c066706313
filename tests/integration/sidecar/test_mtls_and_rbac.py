"""pricing behind its real sidecar, and orders' sidecar in front of the caller: only mesh
certificates get in, RBAC decides by SPIFFE id per RPC, and a caller goes through its own
sidecar's outbound listener in plaintext while the hop between sidecars is mTLS."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.sidecar.placement import Placement
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import MeshTopology
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.pricing.bootstrap import bootstrap
from services.pricing.config import PricingSettings
from tests.bench.pricing_calls import create_quote_request
from tests.integration.sidecar.conftest import mtls_channel
from tests.integration.sidecar.sidecar_process import place, running_sidecar
from tests.servers import serving

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class PricingMesh:
    """pricing's sidecar (in front of the real pricing) and orders' sidecar (its caller)."""

    pricing: Placement
    orders: Placement


@pytest.fixture(scope="module")
async def pricing_mesh(
    mesh: MeshTopology, certs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PricingMesh]:
    work = tmp_path_factory.mktemp("pricing-mesh")
    async with serving(bootstrap(PricingSettings(grpc_port=0, admin_port=-1))) as address:
        app_port = int(address.rsplit(":", 1)[1])
        pricing = place("pricing", mesh, certs_dir, app_port=app_port)
        orders = place("orders", mesh, certs_dir, app_port=0, callees={"pricing": pricing})
        async with running_sidecar(pricing, mesh, work), running_sidecar(orders, mesh, work):
            yield PricingMesh(pricing, orders)


def certs(certs_dir: Path, workload: str) -> CertPaths:
    return CertPaths(certs_dir / workload)


async def create_quote(channel: grpc.aio.Channel) -> pricing_pb2.CreateQuoteResponse:
    stub = pricing_pb2_grpc.PricingServiceStub(channel)
    return await stub.CreateQuote(create_quote_request(), timeout=5)


async def test_a_plaintext_client_is_refused(pricing_mesh: PricingMesh) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{pricing_mesh.pricing.inbound_port}") as plain:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await create_quote(plain)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_certificate_from_another_ca_is_refused(
    pricing_mesh: PricingMesh, certs_dir: Path, wrong_ca_certs: CertPaths
) -> None:
    trusted = certs(certs_dir, "edge")
    port = pricing_mesh.pricing.inbound_port
    async with mtls_channel(wrong_ca_certs, port, trusted=trusted) as impostor:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await create_quote(impostor)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_mesh_certificate_whose_workload_may_not_call_the_rpc_gets_permission_denied(
    pricing_mesh: PricingMesh, certs_dir: Path
) -> None:
    port = pricing_mesh.pricing.inbound_port
    async with mtls_channel(certs(certs_dir, "tracking"), port) as tracking:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await create_quote(tracking)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with mtls_channel(certs(certs_dir, "edge"), port) as edge:
        internal = pricing_pb2_grpc.PricingInternalServiceStub(edge)
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await internal.VerifyQuote(pricing_pb2.VerifyQuoteRequest(quote_id="q"), timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_allowed_workload_calls_through_its_own_sidecar_and_the_callees(
    pricing_mesh: PricingMesh,
) -> None:
    outbound = pricing_mesh.orders.outbound_ports["pricing"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{outbound}") as through_sidecars:
        reply = await create_quote(through_sidecars)
    assert reply.quote.quote_id


async def test_the_edge_certificate_reaches_the_public_service_directly(
    pricing_mesh: PricingMesh, certs_dir: Path
) -> None:
    async with mtls_channel(certs(certs_dir, "edge"), pricing_mesh.pricing.inbound_port) as edge:
        reply = await create_quote(edge)
    assert reply.quote.quote_id


async def test_the_callers_sidecar_refuses_an_rpc_outside_its_calls_as_unimplemented(
    pricing_mesh: PricingMesh,
) -> None:
    outbound = pricing_mesh.orders.outbound_ports["pricing"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{outbound}") as through_sidecar:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(through_sidecar).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_is_served_only_by_the_plaintext_health_listener(
    pricing_mesh: PricingMesh, certs_dir: Path
) -> None:
    request = health_pb2.HealthCheckRequest(service="lastmile.pricing.v1.PricingService")
    health_port = pricing_mesh.pricing.health_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as probe:
        reply = await health_pb2_grpc.HealthStub(probe).Check(request, timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as not_served:
            await create_quote(probe)
        assert not_served.value.code() == grpc.StatusCode.UNIMPLEMENTED
    async with mtls_channel(certs(certs_dir, "edge"), pricing_mesh.pricing.inbound_port) as edge:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await health_pb2_grpc.HealthStub(edge).Check(request, timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_stats_listener_serves_prometheus_metrics_and_nothing_else(
    pricing_mesh: PricingMesh,
) -> None:
    base = f"http://127.0.0.1:{pricing_mesh.pricing.stats_port}"
    with urllib.request.urlopen(f"{base}/stats/prometheus", timeout=5) as scrape:
        assert b"envoy_cluster_upstream_rq_total" in scrape.read()
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(f"{base}/quitquitquit", timeout=5)
    assert not_found.value.code == 404


async def test_orders_fetches_the_quote_keys_through_the_sidecars_and_the_edge_may_not(
    pricing_mesh: PricingMesh, certs_dir: Path
) -> None:
    outbound = pricing_mesh.orders.outbound_ports["pricing"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{outbound}") as through_sidecars:
        internal = pricing_pb2_grpc.PricingInternalServiceStub(through_sidecars)
        reply = await internal.ListQuoteKeys(pricing_pb2.ListQuoteKeysRequest(), timeout=5)
    assert [key.alg for key in reply.keys] == ["EdDSA"]
    async with mtls_channel(certs(certs_dir, "edge"), pricing_mesh.pricing.inbound_port) as edge:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await pricing_pb2_grpc.PricingInternalServiceStub(edge).ListQuoteKeys(
                pricing_pb2.ListQuoteKeysRequest(), timeout=5
            )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
