"""schemathesis against the real edge, with real tokens: every REST operation in the
OpenAPI document the edge serves, with schema-valid (positive) and schema-violating
(negative) input, one operation at a time and in linked sequences (stateful).

The invariants: no 5xx, every error says what went wrong (a google.rpc.Status with a
message), every response conforms to the document (status, content type, body schema),
and negative input is refused. Each test collects every distinct failure
before it fails, so one run lists them all with a curl command to reproduce each."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.e2e.conftest import RunningMesh
from tests.e2e.rest import call, delivery_request
from tests.fuzz.conftest import FuzzReport, SuiteTally, Tokens, crashed_components, fuzz_examples

pytestmark = pytest.mark.slow

OPENAPI = Path(__file__).parents[2] / "gen" / "openapi" / "lastmile.openapi.json"
# Server-Sent Event streams stay open for as long as the delivery or the session lives,
# so a generated case would only ever end by its timeout.
STREAMS = frozenset({"GET /v1/deliveries/{delivery_id}:watch", "POST /v1/courierSessions:connect"})
OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, item in json.loads(OPENAPI.read_text())["paths"].items()
    for method in item
    if f"{method.upper()} {path}" not in STREAMS
)


@schemathesis.check
def error_says_what_went_wrong(
    ctx: schemathesis.CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every error is a google.rpc.Status whose message says what went wrong."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not (isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]):
        raise Failure(
            operation=case.operation.label,
            title="Error without a message",
            message=f"{response.status_code} answered {response.text[:200]!r}",
        )
    return None


ALWAYS = (
    not_a_server_error,
    error_says_what_went_wrong,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
CHECKS = {
    GenerationMode.POSITIVE: ALWAYS,
    GenerationMode.NEGATIVE: (*ALWAYS, negative_data_rejection),
}
REQUEST_TIMEOUT_SECONDS = 15

# Links between operations, by operationId. The generated document has none yet; each is
# added only where the document does not define one of that name, so the document's own
# links win once the OpenAPI generator emits them.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "PricingService_CreateQuote": {
        "DeliveryAtThisQuote": {
            "operationId": "OrdersService_CreateDelivery",
            "requestBody": {"quoteId": "$response.body#/quote/quoteId"},
        },
    },
    "OrdersService_CreateDelivery": {
        "GetCreatedDelivery": {
            "operationId": "OrdersService_GetDelivery",
            "parameters": {"path.delivery_id": "$response.body#/delivery/deliveryId"},
        },
        "CancelCreatedDelivery": {
            "operationId": "OrdersService_CancelDelivery",
            "parameters": {"path.delivery_id": "$response.body#/delivery/deliveryId"},
        },
    },
    "OrdersService_CancelDelivery": {
        "GetCancelledDelivery": {
            "operationId": "OrdersService_GetDelivery",
            "parameters": {"path.delivery_id": "$response.body#/delivery/deliveryId"},
        },
        "CancelAgain": {
            "operationId": "OrdersService_CancelDelivery",
            "parameters": {"path.delivery_id": "$response.body#/delivery/deliveryId"},
        },
    },
    "OrdersService_ListDeliveries": {
        "GetFirstListed": {
            "operationId": "OrdersService_GetDelivery",
            "parameters": {"path.delivery_id": "$response.body#/deliveries/0/deliveryId"},
        },
        "NextPage": {
            "operationId": "OrdersService_ListDeliveries",
            "parameters": {"query.pageToken": "$response.body#/nextPageToken"},
        },
    },
    "OrdersService_ImportDeliveries": {
        "GetFirstImported": {
            "operationId": "OrdersService_GetDelivery",
            "parameters": {"path.delivery_id": "$response.body#/created/0/delivery/deliveryId"},
        },
    },
    "DispatchService_ListQueuedDeliveries": {
        "NextQueuePage": {
            "operationId": "DispatchService_ListQueuedDeliveries",
            "parameters": {"query.pageToken": "$response.body#/nextPageToken"},
        },
    },
}


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    for item in document["paths"].values():
        for operation in item.values():
            for name, link in LINKS.get(operation.get("operationId", ""), {}).items():
                links = operation["responses"]["200"].setdefault("links", {})
                links.setdefault(name, link)
    return document


@dataclass
class Findings:
    """Distinct failures (check, operation, status) with the first case that showed each."""

    tally: SuiteTally
    first: dict[tuple[str, str, int], str] = field(default_factory=dict)

    def validate(self, case: Case[Any], response: Response, checks: tuple[Any, ...]) -> None:
        self.tally.cases += 1
        self.tally.invariants.update(check.__name__ for check in checks)
        status = str(response.status_code)
        self.tally.outcomes[status] = self.tally.outcomes.get(status, 0) + 1
        try:
            case.validate_response(response, checks=list(checks))
        except FailureGroup as group:
            for failure in group.exceptions:
                self.record(case, response, failure)

    def record(self, case: Case[Any], response: Response, failure: Failure) -> None:
        self.tally.failures += 1
        key = (failure.title, case.operation.label, response.status_code)
        if key not in self.first:
            curl = case.as_curl_command(headers={"authorization": "Bearer $TOKEN"})
            self.first[key] = f"{curl}\n    -> {response.status_code} {response.text[:300]}"
            self.tally.distinct.append(f"{failure.title} on {key[1]} ({key[2]}): {self.first[key]}")

    def summary(self) -> str:
        return "\n".join(
            f"{title} on {label} ({status}):\n  {example}"
            for (title, label, status), example in sorted(self.first.items())
        )


@pytest.fixture(scope="module")
def edge_schema(fuzz_mesh: RunningMesh) -> OpenApiSchema:
    """The document the edge serves at /openapi.json (which must be the generated one)."""
    with urllib.request.urlopen(f"{fuzz_mesh.base}/openapi.json", timeout=10) as response:
        served = json.loads(response.read())
    assert served == json.loads(OPENAPI.read_text())
    schema = schemathesis.openapi.from_dict(with_links(served))
    schema.config.update(base_url=fuzz_mesh.base)
    # The stateful scenarios mix both modes; the per-operation tests pick one each.
    schema.config.generation.update(modes=list(GenerationMode))
    return schema


def token_for(tokens: Tokens) -> Callable[[str], str]:
    """Ops views need an ops token; every other operation is called as a customer."""

    def token(path: str) -> str:
        return tokens.ops if path.startswith("/v1/dispatch/") else tokens.customer

    return token


def fuzz_settings(examples: int) -> hypothesis.settings:
    # The loaded profile (ci: derandomized; fuzz: fresh inputs) decides the seed; the
    # shrink phase is off because failures are collected, not raised.
    return hypothesis.settings(
        max_examples=examples,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def findings(fuzz_report: FuzzReport) -> Findings:
    return Findings(fuzz_report.suite("schemathesis (stateless)"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_generated_input_without_server_errors_and_as_documented(
    label: str,
    mode: GenerationMode,
    edge_schema: OpenApiSchema,
    tokens: Tokens,
    fuzz_mesh: RunningMesh,
    findings: Findings,
) -> None:
    operation = edge_schema.find_operation_by_label(label)
    assert operation is not None, label
    token = token_for(tokens)(operation.path)

    @fuzz_settings(fuzz_examples())
    @given(operation.as_strategy(generation_mode=mode))
    def send(case: Case[Any]) -> None:
        response = case.call(
            headers={"authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT_SECONDS
        )
        findings.validate(case, response, CHECKS[mode])

    send()
    assert crashed_components(fuzz_mesh) == []
    assert findings.first == {}, findings.summary()


@pytest.fixture(scope="module")
def customer_deliveries(fuzz_mesh: RunningMesh, tokens: Tokens) -> list[str]:
    """Deliveries the customer owns, so that listing them leads somewhere: the links from
    a list to GetDelivery and CancelDelivery then carry real ids."""
    ids = []
    for number in range(3):
        status, body = call(
            fuzz_mesh.base, "POST", "/v1/deliveries", delivery_request(weight=1000 + number),
            token=tokens.customer, headers={"Idempotency-Key": f"fuzz-seed-{number}"},
        )  # fmt: skip
        assert status == 200, body
        ids.append(body["delivery"]["deliveryId"])
    return ids


def test_linked_sequences_of_calls_answer_without_server_errors_and_as_documented(
    edge_schema: OpenApiSchema,
    tokens: Tokens,
    customer_deliveries: list[str],
    fuzz_mesh: RunningMesh,
    fuzz_report: FuzzReport,
) -> None:
    found = Findings(fuzz_report.suite("schemathesis (stateful)"))
    token = token_for(tokens)
    linked = edge_schema.exclude(path_regex=r":(watch|connect)$")
    base = linked.as_state_machine()

    class EdgeScenarios(base):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {
                "headers": {"authorization": f"Bearer {token(case.operation.path)}"},
                "timeout": REQUEST_TIMEOUT_SECONDS,
            }

        def step(self, input: StepInput) -> StepOutput:
            if input.transition is not None:
                linked = found.tally.outcomes
                linked["steps along a link"] = linked.get("steps along a link", 0) + 1
            output: StepOutput = super().step(input)
            return output

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
            found.validate(case, response, CHECKS[mode])

    EdgeScenarios.run(
        settings=hypothesis.settings(
            fuzz_settings(max(1, fuzz_examples() // 2)),
            stateful_step_count=8,
        )
    )
    assert found.tally.cases > 0
    assert crashed_components(fuzz_mesh) == []
    assert found.first == {}, found.summary()
