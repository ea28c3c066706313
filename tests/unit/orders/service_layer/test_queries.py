"""Reading deliveries over fakes: visibility per role, and keyset pages newest first."""

from __future__ import annotations

import pytest

from services.orders.domain.delivery import DeliveryStatus
from services.orders.service_layer.commands import CancelDelivery, CreateDelivery, ListDeliveries
from services.orders.service_layer.errors import DeliveryNotFound
from services.runtime.context import Caller, Role
from services.runtime.page_tokens import PageTokenInvalid
from tests.unit.orders.examples import REQUEST
from tests.unit.orders.service_layer.conftest import Orders

ALICE = Caller("alice", Role.CUSTOMER)
BOB = Caller("bob", Role.CUSTOMER)
SHOP = Caller("shop", Role.MERCHANT)
OPS = Caller("ops", Role.OPS)


async def create(orders: Orders, caller: Caller, count: int = 1) -> list[str]:
    return [
        (await orders.creation.create(caller, CreateDelivery(REQUEST))).delivery.id
        for _ in range(count)
    ]


async def all_pages(orders: Orders, caller: Caller, query: ListDeliveries) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page = await orders.queries.list(
            caller, ListDeliveries(query.page_size, token, query.statuses)
        )
        pages.append([d.id for d in page.deliveries])
        token = page.next_page_token
        if not token:
            return pages


async def test_owners_and_ops_read_a_delivery_and_others_find_nothing(orders: Orders) -> None:
    [delivery_id] = await create(orders, ALICE)
    assert (await orders.queries.get(ALICE, delivery_id)).id == delivery_id
    assert (await orders.queries.get(OPS, delivery_id)).id == delivery_id
    for stranger in (BOB, SHOP):
        with pytest.raises(DeliveryNotFound):
            await orders.queries.get(stranger, delivery_id)


async def test_pages_are_newest_first_and_cover_everything_once(orders: Orders) -> None:
    ids = await create(orders, SHOP, 7)
    await create(orders, ALICE, 2)
    pages = await all_pages(orders, SHOP, ListDeliveries(page_size=3))
    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[0:1]]


async def test_ops_see_every_owners_deliveries(orders: Orders) -> None:
    mine, theirs = await create(orders, ALICE), await create(orders, SHOP)
    [page] = await all_pages(orders, OPS, ListDeliveries())
    assert page == theirs + mine


async def test_the_status_filter_applies_to_every_page(orders: Orders) -> None:
    ids = await create(orders, ALICE, 5)
    for delivery_id in ids[1::2]:
        await orders.transitions.cancel(ALICE, CancelDelivery(delivery_id))
    pages = await all_pages(
        orders, ALICE, ListDeliveries(page_size=1, statuses=frozenset({DeliveryStatus.CANCELLED}))
    )
    assert pages == [[ids[3]], [ids[1]]]


@pytest.mark.parametrize(("size", "expected"), [(0, 20), (5, 5), (100, 100), (1000, 100)])
async def test_page_sizes_default_to_20_and_are_capped_at_100(
    orders: Orders, size: int, expected: int
) -> None:
    await create(orders, SHOP, 101)
    page = await orders.queries.list(SHOP, ListDeliveries(page_size=size))
    assert len(page.deliveries) == expected


async def test_a_token_cannot_be_reused_by_another_caller_or_filter(orders: Orders) -> None:
    await create(orders, ALICE, 2)
    token = (await orders.queries.list(ALICE, ListDeliveries(page_size=1))).next_page_token
    with pytest.raises(PageTokenInvalid):
        await orders.queries.list(BOB, ListDeliveries(page_size=1, page_token=token))
    pending = frozenset({DeliveryStatus.PENDING})
    with pytest.raises(PageTokenInvalid):
        await orders.queries.list(ALICE, ListDeliveries(1, token, pending))
