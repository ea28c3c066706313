"""What each replica of a local mesh says about itself: its Prometheus counters (its own
admin port), its health, and JetStream's count of events per delivery."""

from __future__ import annotations

import urllib.request
from collections import Counter

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import RunningMesh


def counter(mesh: RunningMesh, of: str, replica: int, name: str, **labels: str) -> float:
    """The sum of counter `name` (without `_total`) over the samples with `labels`, as
    replica `replica` of service `of` exposes it on /metrics."""
    url = f"http://127.0.0.1:{mesh.admin_port(of, replica)}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def handled(mesh: RunningMesh, service: str, grpc_service: str, method: str) -> list[float]:
    """Calls of `grpc_service/method` each replica of `service` has completed."""
    return [
        counter(mesh, service, k, "grpc_server_handled",
                grpc_service=grpc_service, grpc_method=method)
        for k in range(mesh.replicas.count(service))
    ]  # fmt: skip


def published(mesh: RunningMesh, service: str) -> list[float]:
    """Outbox events each replica of `service` has relayed to JetStream."""
    return [
        counter(mesh, service, k, "lastmile_outbox_published", service=service)
        for k in range(mesh.replicas.count(service))
    ]


def grew(before: list[float], after: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(before, after, strict=True)]


def health(mesh: RunningMesh, service: str, replica: int, proto_service: str) -> str:
    """Health/Check of one replica on its own port: "SERVING", "NOT_SERVING", or the error."""
    with grpc.insecure_channel(f"127.0.0.1:{mesh.grpc_port(service, replica)}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=proto_service), timeout=3
            )
        except grpc.RpcError as failed:
            return str(failed.code())
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return name


def spread(values: list[float]) -> Counter[bool]:
    """How many replicas did some of the work (True) and how many none (False)."""
    return Counter(value > 0 for value in values)


def edge_stat(mesh: RunningMesh, name: str) -> int:
    """One of the edge's own Envoy counters (its admin interface), 0 before it first counts."""
    url = f"http://127.0.0.1:{mesh.ports.edge_admin}/stats?filter=^{name}$"
    with urllib.request.urlopen(url, timeout=5) as response:
        lines = response.read().decode().splitlines()
    values = [int(line.split(": ")[1]) for line in lines if line.startswith(f"{name}: ")]
    return sum(values)
