"""The customer agent against a tiny in-process HTTP server shaped like the edge."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.simulator.city import CITIES
from services.simulator.customer_agent import CustomerAgent
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


def customer(client: httpx.AsyncClient, observations: Observations) -> CustomerAgent:
    return CustomerAgent(
        "customer-1", FixedToken(), client, CITIES["berlin"], rate_per_second=200.0,
        observations=observations, rng=random.Random(4),
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
