"""Idempotency keys over gRPC: repeats and concurrent racers converge on one delivery;
a key reused for another request is refused; keys belong to their caller."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from lastmile.orders.v1 import orders_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.orders_examples import account, create_request
from tests.status_details import error_info

pytestmark = pytest.mark.slow


async def deliveries_of_customer(stack: OrdersStack, customer_id: str) -> int:
    return int(
        await stack.database.pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE customer_id = $1", customer_id
        )
    )


async def test_the_same_create_sent_20_times_concurrently_with_one_key_gives_one_delivery(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    key = str(uuid.uuid4())
    replies = await asyncio.gather(
        *(
            stack.orders.CreateDelivery(create_request(key), metadata=customer.metadata)
            for _ in range(20)
        )
    )
    ids = {reply.delivery.delivery_id for reply in replies}
    assert len(ids) == 1
    assert await deliveries_of_customer(stack, customer.account_id) == 1
    assert len(await stack.events_of(ids.pop())) == 1


async def test_a_repeat_with_the_key_in_metadata_returns_the_same_delivery(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    key = str(uuid.uuid4())
    first = await stack.orders.CreateDelivery(create_request(key), metadata=customer.metadata)
    again = await stack.orders.CreateDelivery(create_request(), metadata=customer.with_key(key))
    assert again.delivery == first.delivery
    assert await deliveries_of_customer(stack, customer.account_id) == 1


async def test_the_same_key_with_a_different_delivery_is_refused(stack: OrdersStack) -> None:
    customer = account("customer")
    key = str(uuid.uuid4())
    await stack.orders.CreateDelivery(create_request(key), metadata=customer.metadata)
    heavier = create_request(key)
    heavier.delivery.parcel.weight_grams = 2000
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(heavier, metadata=customer.metadata)
    assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "IDEMPOTENCY_KEY_REUSED"
    assert info.metadata["idempotency_key"] == key
    assert "different delivery request" in (raised.value.details() or "")
    assert await deliveries_of_customer(stack, customer.account_id) == 1


async def test_concurrent_racers_with_one_key_and_different_payloads_get_one_winner(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    key = str(uuid.uuid4())
    requests = [create_request(key) for _ in range(6)]
    for grams, request in enumerate(requests, start=1):
        request.delivery.parcel.weight_grams = grams * 100
    outcomes = await asyncio.gather(
        *(stack.orders.CreateDelivery(r, metadata=customer.metadata) for r in requests),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    created = [o for o in outcomes if isinstance(o, orders_pb2.CreateDeliveryResponse)]
    assert len(created) == 1
    assert len(refused) == 5
    assert {error.code() for error in refused} == {grpc.StatusCode.FAILED_PRECONDITION}
    assert await deliveries_of_customer(stack, customer.account_id) == 1


async def test_keys_are_scoped_to_the_caller(stack: OrdersStack) -> None:
    key = str(uuid.uuid4())
    first, second = account("customer"), account("customer")
    one = await stack.orders.CreateDelivery(create_request(key), metadata=first.metadata)
    other = await stack.orders.CreateDelivery(create_request(key), metadata=second.metadata)
    assert one.delivery.delivery_id != other.delivery.delivery_id
    assert other.delivery.customer_id == second.account_id


async def test_without_a_key_every_call_creates_a_new_delivery(stack: OrdersStack) -> None:
    customer = account("customer")
    for _ in range(2):
        await stack.orders.CreateDelivery(create_request(), metadata=customer.metadata)
    assert await deliveries_of_customer(stack, customer.account_id) == 2
