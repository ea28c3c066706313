"""The customer agent against a tiny in-process HTTP server shaped like the edge."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.simulator.city import CITIES
from services.simulator.customer_agent import RETRY_BUDGET_SECONDS, CustomerAgent
from services.simulator.observations import Observations
from tests.unit.simulator.fake_edge import FakeEdge, serving_edge


class FixedToken:
    async def access_token(self, *, renew: bool = False) -> str:
        return "customer-token"


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    with serving_edge(FakeEdge()) as running:
        yield running


@pytest.fixture
async def client(edge: FakeEdge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge.base_url) as client:
        yield client


class RecordedWaits:
    """Stands in for asyncio.sleep: records each wait the agent asks for, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def customer(
    client: httpx.AsyncClient, observations: Observations, waits: RecordedWaits | None = None
) -> CustomerAgent:
    return CustomerAgent(
        "customer-1", FixedToken(), client, CITIES["berlin"], rate_per_second=200.0,
        observations=observations, rng=random.Random(4), sleep=waits or asyncio.sleep,
    )  # fmt: skip


async def test_every_delivery_carries_a_unique_request_id_and_the_bearer_token(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    observations = Observations()
    agent = customer(client, observations)
    for _ in range(10):
        await agent.create_delivery()
    keys = [request.headers["idempotency-key"] for request in edge.received]
    assert len(keys) == 10
    assert len(set(keys)) == 10
    assert {request.headers["authorization"] for request in edge.received} == {
        "Bearer customer-token"
    }
    assert {request.path for request in edge.received} == {"/v1/deliveries"}
    assert observations.counters.created == 10
    assert observations.ledger.open_count == 10


async def test_the_body_is_a_delivery_inside_the_city(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    await customer(client, Observations()).create_delivery()
    [request] = edge.received
    body, box = request.body, CITIES["berlin"]
    for stop in ("pickup", "dropoff"):
        point = body[stop]["point"]
        assert box.south <= point["latitude"] <= box.north
        assert box.west <= point["longitude"] <= box.east
        assert body[stop]["contact"]["phone"].startswith("+")
    assert body["parcel"]["size"].startswith("PARCEL_SIZE_")
    assert 0 < body["parcel"]["weightGrams"] <= 30_000
    assert body["serviceLevel"] in {"SERVICE_LEVEL_STANDARD", "SERVICE_LEVEL_EXPRESS"}


async def test_a_retry_after_503_reuses_the_request_id(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    edge.statuses = [503, 429]
    observations = Observations()
    await customer(client, observations).create_delivery()
    keys = {request.headers["idempotency-key"] for request in edge.received}
    assert (len(edge.received), len(keys)) == (3, 1)
    assert observations.counters.created == 1
    assert not observations.counters.failed_creates


async def test_a_503_with_retry_info_is_retried_after_its_delay_with_the_same_key(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    edge.statuses, edge.retry_delay = [503] * 5, "0.25s"
    observations, waits = Observations(), RecordedWaits()
    await customer(client, observations, waits).create_delivery()

    assert len(edge.received) == 6
    assert len({request.headers["idempotency-key"] for request in edge.received}) == 1
    assert waits.waits == [0.25] * 5
    assert observations.counters.created == 1
    assert observations.counters.create_retries == 5
    assert not observations.counters.failed_creates


async def test_retries_stop_once_their_waits_would_pass_the_budget(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    edge.statuses, edge.retry_delay = [503] * 10, "10s"
    observations, waits = Observations(), RecordedWaits()
    await customer(client, observations, waits).create_delivery()

    assert sum(waits.waits) <= RETRY_BUDGET_SECONDS
    assert waits.waits == [10.0, 10.0, 10.0]
    assert len(edge.received) == 4
    assert observations.counters.failed_creates == {"503": 1}
    assert observations.counters.create_retries == 3


async def test_a_refused_create_is_counted_by_its_status(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    edge.statuses = [400]
    observations = Observations()
    await customer(client, observations).create_delivery()
    assert len(edge.received) == 1
    assert observations.counters.failed_creates == {"400": 1}


async def test_a_customer_stops_creating_at_its_deadline(
    edge: FakeEdge, client: httpx.AsyncClient
) -> None:
    observations = Observations()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.3
    await customer(client, observations).run(until=deadline, stopping=asyncio.Event())
    # It returned, once the last create before the deadline was answered: about 60
    # arrivals at 200/s, and none scheduled after the deadline was sent.
    assert 0 < observations.counters.created < 200
    assert observations.counters.created == len(edge.received)
    assert len({request.headers["idempotency-key"] for request in edge.received}) == len(
        edge.received
    )
