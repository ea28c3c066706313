"""One real Envoy edge for the gateway tests, rendered by the real renderer, in front of the
real pricing service (its own process) and a recording upstream for every other service."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from gateway.edge import Address, EdgeSettings, RateLimit, write_edge_config
from gateway.edge.settings import DESCRIPTOR_SET
from gateway.edge.surface import EdgeSurface, edge_surface
from gateway.proto_catalog import ProtoCatalog
from lastmile.orders.v1 import orders_pb2
from lastmile.tracking.v1 import tracking_pb2
from services.devstack.ports import free_port
from tests.integration.gateway.edge_process import EnvoyProcess, Reply
from tests.integration.gateway.jwt_issuer import Issuer, JwksServer
from tests.integration.gateway.recording_upstream import RecordingUpstream
from tests.servers import wait_until_serving

ISSUER = "https://identity.test.lastmile.dev"
AUDIENCE = "lastmile"
ALLOWED_ORIGIN = "https://app.lastmile.test"
LOGIN_BUCKET = 3
MAX_REQUEST_BYTES = 4096
MAX_STREAMING_REQUEST_BYTES = 64 * 1024

UNARY_TIMEOUT_SECONDS = 2.0
WATCH = "/lastmile.tracking.v1.TrackingService/WatchDelivery"
SLOW_UNARY = "/lastmile.dispatch.v1.DispatchService/GetOverview"
IMPORT = "/lastmile.orders.v1.OrdersService/ImportDeliveries"
SENT_AT = timestamp_pb2.Timestamp(seconds=1_767_225_600)  # 2026-01-01T00:00:00Z
# The watch's two events come 1.2 s apart, so it outlives the unary timeout; the slow
# unary method answers after it.
DELAYS = {WATCH: 0.6 * UNARY_TIMEOUT_SECONDS, SLOW_UNARY: 1.5 * UNARY_TIMEOUT_SECONDS}
REPLIES = {
    WATCH: [
        tracking_pb2.WatchDeliveryResponse(
            send_time=SENT_AT, heartbeat=tracking_pb2.WatchHeartbeat()
        ).SerializeToString(),
        tracking_pb2.WatchDeliveryResponse(
            send_time=SENT_AT,
            status_change=tracking_pb2.DeliveryStatusChange(delivery_id="d-1", version=7),
        ).SerializeToString(),
    ],
    IMPORT: [
        orders_pb2.ImportDeliveriesResponse(
            item_count=1, created=[orders_pb2.ImportedDelivery(index=0, delivery_id="d-0")]
        ).SerializeToString()
    ],
}


@dataclass(frozen=True)
class Edge:
    """The running edge, what stands behind it, and the key its tokens must be signed with."""

    process: EnvoyProcess
    upstream: RecordingUpstream
    issuer: Issuer
    surface: EdgeSurface
    access_log: Path

    def call(
        self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> Reply:
        return self.process.call(method, path, body, headers)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.process.port}"

    def bearer(self, sub: str = "acc-1", role: str = "customer", **claims: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {self.issuer.token(sub, role, **claims)}"}


def edge_settings(
    out: Path, upstreams: dict[str, Address], jwks_url: str, **overrides: Any
) -> EdgeSettings:
    """The gateway tests' edge: these upstreams, free ports, the test issuer and limits."""
    settings: dict[str, Any] = {
        "listen": Address("127.0.0.1", free_port()),
        "admin_port": free_port(),
        "access_log_path": out / "access.log",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "login_rate_limit": RateLimit(requests=LOGIN_BUCKET, per_seconds=3600),
        "max_request_bytes": MAX_REQUEST_BYTES,
        "max_streaming_request_bytes": MAX_STREAMING_REQUEST_BYTES,
    }
    return EdgeSettings(upstreams=upstreams, jwks_url=jwks_url, **{**settings, **overrides})


def edge_process(settings: EdgeSettings, out: Path) -> EnvoyProcess:
    """An Envoy (not started yet) running the edge config rendered from `settings`."""
    config = write_edge_config(settings, out)
    return EnvoyProcess(config, settings.listen.port, settings.admin_port, out / "envoy.log")


@pytest.fixture(scope="session")
def surface() -> EdgeSurface:
    return edge_surface(ProtoCatalog.from_descriptor_set(DESCRIPTOR_SET.read_bytes()))


@pytest.fixture(scope="session")
def pricing_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("pricing") / "pricing.log"
    env = {
        **os.environ,
        "LASTMILE_PRICING_GRPC_PORT": str(port),
        "LASTMILE_PRICING_ADMIN_PORT": "-1",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.pricing"], env=env, stdout=sink, stderr=sink
        )
    try:
        wait_until_serving(port, log=log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def edge(
    tmp_path_factory: pytest.TempPathFactory, surface: EdgeSurface, pricing_port: int
) -> Iterator[Edge]:
    out = tmp_path_factory.mktemp("edge")
    issuer = Issuer(ISSUER, AUDIENCE)
    jwks = JwksServer(issuer.jwks())
    upstream = RecordingUpstream(surface, REPLIES, DELAYS)
    jwks.start()
    upstream.start()
    recorder = Address("127.0.0.1", upstream.port)
    settings = edge_settings(
        out,
        {
            **{name: recorder for name in surface.upstreams},
            "pricing": Address("127.0.0.1", pricing_port),
        },
        jwks.url,
        cors_allowed_origins=(ALLOWED_ORIGIN,),
        unary_timeout_seconds=UNARY_TIMEOUT_SECONDS,
    )
    process = edge_process(settings, out)
    try:
        process.start()
        yield Edge(process, upstream, issuer, surface, out / "access.log")
    finally:
        process.stop()
        upstream.stop()
        jwks.stop()
