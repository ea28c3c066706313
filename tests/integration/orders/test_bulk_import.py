"""ImportDeliveries over gRPC: a per-item summary, 10 000 items in one stream, and a
stream cut off halfway that a retry completes without creating anything twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import grpc
import pytest

from lastmile.common.v1 import parcel_pb2
from lastmile.orders.v1 import orders_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.integration.test_events import eventually
from tests.orders_examples import DELIVERY_TEXT_FIELDS, Account, account, delivery, stop, with_text
from tests.status_details import field_violations

pytestmark = pytest.mark.slow


def item(key: str, **overrides: object) -> orders_pb2.ImportDeliveriesRequest:
    return orders_pb2.ImportDeliveriesRequest(delivery=delivery(**overrides), idempotency_key=key)


async def streamed(
    items: Iterable[orders_pb2.ImportDeliveriesRequest],
) -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
    for request in items:
        yield request


async def merchant_deliveries(stack: OrdersStack, merchant: Account) -> int:
    return int(
        await stack.database.pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE merchant_id = $1", merchant.account_id
        )
    )


async def test_a_mixed_import_creates_the_valid_items_and_reports_each_invalid_one(
    stack: OrdersStack,
) -> None:
    merchant = account("merchant")
    items = [
        item("a"),
        item("b", pickup=stop(95, 13.4)),
        item(""),
        item("a"),
        item("e", service_level=parcel_pb2.SERVICE_LEVEL_EXPRESS),
        item("f", dropoff=stop(48.137, 11.575, "Marienplatz, München")),
    ]
    summary = await stack.orders.ImportDeliveries(streamed(items), metadata=merchant.metadata)
    assert summary.item_count == 6
    assert [c.index for c in summary.created] == [0, 4]
    assert not any(c.replayed for c in summary.created)
    assert [e.index for e in summary.errors] == [1, 2, 3, 5]
    assert [e.idempotency_key for e in summary.errors] == ["b", "", "a", "f"]
    codes = {e.index: e.status.code for e in summary.errors}
    assert set(codes.values()) == {grpc.StatusCode.INVALID_ARGUMENT.value[0]}
    fields = {e.index: field_violations(e.status) for e in summary.errors}
    assert fields == {
        1: {"delivery.pickup.point.latitude"},
        2: {"idempotency_key"},
        3: {"idempotency_key"},
        5: {"delivery.dropoff.point"},
    }
    assert await merchant_deliveries(stack, merchant) == 2


async def test_10000_items_in_one_stream_are_all_created(stack: OrdersStack) -> None:
    merchant = account("merchant")
    count = 10_000
    template = delivery()

    async def items() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        # Generated lazily, as a client reading a file would.
        for n in range(count):
            yield orders_pb2.ImportDeliveriesRequest(delivery=template, idempotency_key=f"k{n}")

    summary = await stack.orders.ImportDeliveries(items(), metadata=merchant.metadata)
    assert summary.item_count == count
    assert list(summary.errors) == []
    assert [c.index for c in summary.created] == list(range(count))
    assert len({c.delivery_id for c in summary.created}) == count
    assert await merchant_deliveries(stack, merchant) == count


async def test_an_import_cut_off_halfway_keeps_what_it_created_and_a_retry_adds_the_rest(
    stack: OrdersStack,
) -> None:
    merchant = account("merchant")
    batch = [item(f"cut-{n}", parcel=delivery().parcel) for n in range(40)]
    first_half_created = asyncio.Event()

    async def cut_off_after_half() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        for request in batch[:20]:
            yield request
        await first_half_created.wait()
        await asyncio.Event().wait()  # the connection drops before the rest is sent

    call = stack.orders.ImportDeliveries(cut_off_after_half(), metadata=merchant.metadata)

    async def first_half_committed() -> bool:
        return await merchant_deliveries(stack, merchant) >= 20

    await eventually(first_half_committed, "the first 20 items to be created")
    first_half_created.set()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await merchant_deliveries(stack, merchant) == 20

    summary = await stack.orders.ImportDeliveries(streamed(batch), metadata=merchant.metadata)
    assert summary.item_count == 40
    assert list(summary.errors) == []
    assert [c.replayed for c in summary.created] == [True] * 20 + [False] * 20
    assert await merchant_deliveries(stack, merchant) == 40


async def test_a_repeated_import_replays_every_item_and_creates_nothing(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    batch = [item(f"again-{n}") for n in range(5)]
    first = await stack.orders.ImportDeliveries(streamed(batch), metadata=customer.metadata)
    second = await stack.orders.ImportDeliveries(streamed(batch), metadata=customer.metadata)
    assert [c.delivery_id for c in second.created] == [c.delivery_id for c in first.created]
    assert all(c.replayed for c in second.created)
    count = await stack.database.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE customer_id = $1", customer.account_id
    )
    assert count == 5


@pytest.mark.parametrize("role", ["courier", "ops"])
async def test_couriers_and_ops_may_not_import(stack: OrdersStack, role: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.ImportDeliveries(streamed([item("x")]), metadata=account(role).metadata)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_an_import_without_identity_is_unauthenticated(stack: OrdersStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.ImportDeliveries(streamed([item("x")]))
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_an_item_with_a_nul_gets_its_own_invalid_argument_and_the_rest_is_created(
    stack: OrdersStack,
) -> None:
    # It used to reach PostgreSQL, which refused it: the item came back with code 13.
    merchant = account("merchant")
    items = [
        item("n-0"),
        *(
            orders_pb2.ImportDeliveriesRequest(
                delivery=with_text(delivery(), path, "bad\x00text"), idempotency_key=f"n-{index}"
            )
            for index, path in enumerate(DELIVERY_TEXT_FIELDS, start=1)
        ),
        item("n-last"),
    ]
    summary = await stack.orders.ImportDeliveries(streamed(items), metadata=merchant.metadata)
    assert summary.item_count == len(items)
    assert [c.index for c in summary.created] == [0, len(items) - 1]
    assert [e.index for e in summary.errors] == list(range(1, len(items) - 1))
    assert {e.status.code for e in summary.errors} == {grpc.StatusCode.INVALID_ARGUMENT.value[0]}
    assert [field_violations(e.status) for e in summary.errors] == [
        {f"delivery.{path}"} for path in DELIVERY_TEXT_FIELDS
    ]
    assert await merchant_deliveries(stack, merchant) == 2
