"""The README's grpcurl command against the edge, run as written there with the real
grpcurl: no reflection through the edge, so the descriptor set describes the call, and the
JWT rides in the `authorization` metadata."""

from __future__ import annotations

import json

import pytest

from lastmile.orders.v1 import orders_pb2
from tests.integration.gateway.conftest import Edge
from tests.readme_commands import readme_commands, run_grpcurl

pytestmark = pytest.mark.slow

LIST_DELIVERIES = "/lastmile.orders.v1.OrdersService/ListDeliveries"


def test_the_readme_lists_deliveries_through_the_edge_with_grpcurl_and_the_descriptor_set(
    edge: Edge,
) -> None:
    (command,) = [words for words in readme_commands("grpcurl") if "-protoset" in words]
    token = edge.bearer(sub="customer-7", role="customer")["authorization"].removeprefix("Bearer ")
    calls_before = len(edge.upstream.calls_to(LIST_DELIVERIES))

    result = run_grpcurl(command, {"127.0.0.1:8080": edge.grpc_target, "$TOKEN": token})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}  # the recording upstream answers an empty page
    (seen,) = edge.upstream.calls_to(LIST_DELIVERIES)[calls_before:]
    assert orders_pb2.ListDeliveriesRequest.FromString(seen.requests[0]).page_size == 2
    assert seen.values("x-lastmile-account-id") == ["customer-7"]
