"""Malformed and mutated protobuf bytes to every method of every service, straight to
each service's own port and through the edge: a bad request is refused with a status
that says so (never INTERNAL or UNKNOWN), and no process of the mesh dies of it.

Each (target, method, mutation) sends `FUZZ_EXAMPLES // 8` cases (at least 2) from an RNG
seeded by its name, so CI sends the same bytes on every run; `make fuzz` sends more."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.components import SERVICES
from tests.e2e.conftest import RunningMesh
from tests.fuzz.conftest import FuzzReport, SuiteTally, Tokens, crashed_components, fuzz_examples
from tests.fuzz.protobuf_mutations import MUTATIONS, Method, contract_methods, mutated_requests

pytestmark = pytest.mark.slow

METHODS = contract_methods()
FORBIDDEN = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
INVARIANTS = (
    "never INTERNAL or UNKNOWN",
    "a single-answer call answers before its deadline",
    "no component of the mesh exits",
)
# A call with one answer (a client stream included, which ends when the client closes
# it) answers well within its deadline. A response stream may legitimately stay open (a
# courier's session, a watch), so the deadline ending it is an answer too.
SINGLE_ANSWER_DEADLINE_SECONDS = 15
RESPONSE_STREAM_DEADLINE_SECONDS = 1.5
MESSAGES_PER_STREAM = 3
ROLES = ("customer", "merchant", "courier", "ops")


@dataclass
class GrpcFindings:
    """Statuses seen, and the first request that produced each forbidden one."""

    tally: SuiteTally
    first: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def record(
        self,
        target: str,
        method: Method,
        mutation: str,
        sent: bytes,
        code: grpc.StatusCode,
        details: str,
    ) -> None:
        self.tally.cases += 1
        self.tally.outcomes[code.name] = self.tally.outcomes.get(code.name, 0) + 1
        self.tally.invariants.update(INVARIANTS)
        hung = code == grpc.StatusCode.DEADLINE_EXCEEDED and not method.server_streaming
        if code in FORBIDDEN or hung:
            self.tally.failures += 1
            key = (target, method.path, mutation, code.name)
            if key not in self.first:
                self.first[key] = f"{sent[:48].hex()} -> {code.name}: {details[:200]}"
                self.tally.distinct.append(f"{target} {method.path} [{mutation}] {self.first[key]}")


def answer(
    channel: grpc.Channel,
    method: Method,
    messages: list[bytes],
    metadata: tuple[tuple[str, str | bytes], ...],
) -> tuple[grpc.StatusCode, str]:
    """Send `messages` (one for a unary request) and read the whole answer; raw bytes in,
    raw bytes out (None serializers)."""
    deadline = (
        RESPONSE_STREAM_DEADLINE_SECONDS
        if method.server_streaming
        else SINGLE_ANSWER_DEADLINE_SECONDS
    )
    try:
        if method.client_streaming and method.server_streaming:
            for _ in channel.stream_stream(method.path, None, None)(
                iter(messages), timeout=deadline, metadata=metadata
            ):
                pass
        elif method.client_streaming:
            channel.stream_unary(method.path, None, None)(
                iter(messages), timeout=deadline, metadata=metadata
            )
        elif method.server_streaming:
            for _ in channel.unary_stream(method.path, None, None)(
                messages[0], timeout=deadline, metadata=metadata
            ):
                pass
        else:
            channel.unary_unary(method.path, None, None)(
                messages[0], timeout=deadline, metadata=metadata
            )
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def cases(method: Method, mutation: str, target: str) -> Iterator[list[bytes]]:
    rng = random.Random(f"{target}:{method.path}:{mutation}")
    count = max(2, fuzz_examples() // 8)
    per_call = MESSAGES_PER_STREAM if method.client_streaming else 1
    requests = list(mutated_requests(method, MUTATIONS[mutation], rng, count * per_call))
    for start in range(0, len(requests), per_call):
        yield requests[start : start + per_call]


@pytest.fixture(scope="module")
def grpc_findings(fuzz_report: FuzzReport) -> GrpcFindings:
    return GrpcFindings(fuzz_report.suite("grpc fuzzer"))


def direct_metadata(rng: random.Random) -> tuple[tuple[str, str | bytes], ...]:
    """The caller identity a sidecar forwards inside the mesh, for a random role (or none,
    one call in five), so handlers past the role check are fuzzed too."""
    if rng.random() < 0.2:
        return ()
    account_id = str(uuid.UUID(int=rng.getrandbits(128)))
    return (("x-lastmile-account-id", account_id), ("x-lastmile-role", rng.choice(ROLES)))


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path.lstrip("/"))
def test_every_method_refuses_mutated_bytes_sent_directly_with_a_proper_status(
    method: Method, mutation: str, fuzz_mesh: RunningMesh, grpc_findings: GrpcFindings
) -> None:
    before = dict(grpc_findings.first)
    rng = random.Random(f"metadata:{method.path}:{mutation}")
    with grpc.insecure_channel(f"127.0.0.1:{fuzz_mesh.ports.grpc(method.owner)}") as channel:
        for messages in cases(method, mutation, "direct"):
            code, details = answer(channel, method, messages, direct_metadata(rng))
            grpc_findings.record("direct", method, mutation, messages[0], code, details)
    assert crashed_components(fuzz_mesh) == []
    new = {key: value for key, value in grpc_findings.first.items() if key not in before}
    assert new == {}, "\n".join(f"{k}: {v}" for k, v in new.items())


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.path.lstrip("/"))
def test_every_method_refuses_mutated_bytes_through_the_edge_with_a_proper_status(
    method: Method,
    mutation: str,
    fuzz_mesh: RunningMesh,
    tokens: Tokens,
    grpc_findings: GrpcFindings,
) -> None:
    before = dict(grpc_findings.first)
    rng = random.Random(f"token:{method.path}:{mutation}")
    with grpc.insecure_channel(fuzz_mesh.grpc_target) as channel:
        for messages in cases(method, mutation, "edge"):
            token = rng.choice((tokens.customer, tokens.courier, tokens.ops))
            code, details = answer(
                channel, method, messages, (("authorization", f"Bearer {token}"),)
            )
            grpc_findings.record("edge", method, mutation, messages[0], code, details)
    assert crashed_components(fuzz_mesh) == []
    new = {key: value for key, value in grpc_findings.first.items() if key not in before}
    assert new == {}, "\n".join(f"{k}: {v}" for k, v in new.items())


def test_after_all_the_fuzzing_every_service_still_reports_serving(fuzz_mesh: RunningMesh) -> None:
    # Runs after the fuzz cases above (pytest keeps the order of a module).
    statuses = {}
    for spec in SERVICES:
        with grpc.insecure_channel(f"127.0.0.1:{fuzz_mesh.ports.grpc(spec.name)}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=SINGLE_ANSWER_DEADLINE_SECONDS
            )
            statuses[spec.name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    assert statuses == {spec.name: "SERVING" for spec in SERVICES}
    assert crashed_components(fuzz_mesh) == []
