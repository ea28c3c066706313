"""The use cases wired over fakes, as bootstrap wires them over PostgreSQL and pricing."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest

from services.orders.service_layer.bulk_import import DeliveryImport
from services.orders.service_layer.creation import DeliveryCreation
from services.orders.service_layer.ports import UnitOfWork
from services.orders.service_layer.queries import DeliveryQueries
from services.orders.service_layer.transitions import DeliveryTransitions
from services.runtime.page_tokens import PageTokens
from tests.unit.orders.fakes import Clock, FakePricing, FakeStore, FakeUnitOfWork


@dataclass
class Orders:
    """orders' use cases and the fakes behind them."""

    store: FakeStore
    pricing: FakePricing
    clock: Clock
    creation: DeliveryCreation
    imports: DeliveryImport
    queries: DeliveryQueries
    transitions: DeliveryTransitions


@pytest.fixture
def orders() -> Orders:
    store, pricing, clock = FakeStore(), FakePricing(), Clock()
    ids = (str(uuid.UUID(int=n)) for n in itertools.count(1))

    def unit_of_work() -> UnitOfWork:
        return FakeUnitOfWork(store)

    creation = DeliveryCreation(unit_of_work, pricing, clock, new_id=lambda: next(ids))
    return Orders(
        store,
        pricing,
        clock,
        creation,
        DeliveryImport(creation, concurrency=4, max_items=5),
        DeliveryQueries(unit_of_work, PageTokens(b"k" * 32)),
        DeliveryTransitions(unit_of_work, clock),
    )
