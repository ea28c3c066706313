"""The authorization matrix of OrdersService: roles by RPCs by own and others' deliveries.
No identity is UNAUTHENTICATED, a wrong role PERMISSION_DENIED, and someone else's
delivery NOT_FOUND, so that nothing leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from lastmile.orders.v1 import orders_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.orders_examples import Account, Metadata, account, create_request

pytestmark = pytest.mark.slow
OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ROLES = ("customer", "merchant", "courier", "ops")


async def single_item() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
    yield orders_pb2.ImportDeliveriesRequest(
        delivery=create_request().delivery, idempotency_key="one"
    )


async def outcome(
    stack: OrdersStack, rpc: str, delivery_id: str, metadata: Metadata
) -> grpc.StatusCode:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "create": lambda: stack.orders.CreateDelivery(create_request(), metadata=metadata),
        "import": lambda: stack.orders.ImportDeliveries(single_item(), metadata=metadata),
        "get": lambda: stack.orders.GetDelivery(
            orders_pb2.GetDeliveryRequest(delivery_id=delivery_id), metadata=metadata
        ),
        "list": lambda: stack.orders.ListDeliveries(
            orders_pb2.ListDeliveriesRequest(), metadata=metadata
        ),
        "cancel": lambda: stack.orders.CancelDelivery(
            orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id), metadata=metadata
        ),
    }
    try:
        await calls[rpc]()
    except grpc.aio.AioRpcError as error:
        return error.code()
    return OK


CREATE_ACCESS = (UNAUTHENTICATED, OK, OK, DENIED, DENIED)  # anonymous, then ROLES in order
LIST_ACCESS = (UNAUTHENTICATED, OK, OK, DENIED, OK)
ONE_DELIVERY_ACCESS = (
    # role (None: no identity), whose delivery, expected code
    (None, "others", UNAUTHENTICATED),
    ("customer", "own", OK),
    ("customer", "others", NOT_FOUND),
    ("merchant", "own", OK),
    ("merchant", "others", NOT_FOUND),
    ("courier", "others", DENIED),
    ("ops", "others", OK),
)
MATRIX = [
    *[
        (rpc, role, "-", code)
        for rpc, codes in (
            ("create", CREATE_ACCESS),
            ("import", CREATE_ACCESS),
            ("list", LIST_ACCESS),
        )
        for role, code in zip((None, *ROLES), codes, strict=True)
    ],
    *[(rpc, *access) for rpc in ("get", "cancel") for access in ONE_DELIVERY_ACCESS],
]


@pytest.mark.parametrize(
    ("rpc", "role", "whose", "expected"),
    MATRIX,
    ids=[f"{rpc}-{role or 'anonymous'}-{whose}" for rpc, role, whose, _ in MATRIX],
)
async def test_each_role_gets_exactly_the_access_the_contract_gives_it(
    stack: OrdersStack, rpc: str, role: str | None, whose: str, expected: grpc.StatusCode
) -> None:
    caller = account(role) if role else None
    owner = caller if whose == "own" and caller else account("customer")
    delivery_id = (
        await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    ).delivery.delivery_id
    metadata = caller.metadata if caller else ()
    assert await outcome(stack, rpc, delivery_id, metadata) is expected


async def listed(stack: OrdersStack, caller: Account) -> set[str]:
    reply = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(page_size=100), metadata=caller.metadata
    )
    return {d.delivery_id for d in reply.deliveries}


async def created_by(stack: OrdersStack, owner: Account, **overrides: object) -> str:
    reply = await stack.orders.CreateDelivery(create_request(**overrides), metadata=owner.metadata)
    return reply.delivery.delivery_id


async def test_customers_and_merchants_list_only_their_own_and_ops_list_all(
    stack: OrdersStack,
) -> None:
    customer, merchant, ops = account("customer"), account("merchant"), account("ops")
    mine = await created_by(stack, customer)
    theirs = await created_by(stack, merchant)
    assert await listed(stack, customer) == {mine}
    assert await listed(stack, merchant) == {theirs}
    assert {mine, theirs} <= await listed(stack, ops)


async def test_a_customer_named_by_a_merchant_sees_that_delivery_and_other_merchants_do_not(
    stack: OrdersStack,
) -> None:
    customer, merchant = account("customer"), account("merchant")
    delivery_id = await created_by(stack, merchant, customer_id=customer.account_id)
    reply = await stack.orders.GetDelivery(
        orders_pb2.GetDeliveryRequest(delivery_id=delivery_id), metadata=customer.metadata
    )
    assert (reply.delivery.customer_id, reply.delivery.merchant_id) == (
        customer.account_id,
        merchant.account_id,
    )
    assert await listed(stack, customer) == {delivery_id}
    assert await outcome(stack, "get", delivery_id, account("merchant").metadata) is NOT_FOUND


async def test_a_customer_may_not_name_another_customer_as_owner(stack: OrdersStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await created_by(stack, account("customer"), customer_id="someone-else")
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "delivery.customer_id" in (raised.value.details() or "")


async def test_a_role_the_gateway_does_not_know_counts_as_no_identity(stack: OrdersStack) -> None:
    metadata = (("x-lastmile-account-id", "a"), ("x-lastmile-role", "admin"))
    assert await outcome(stack, "list", "", metadata) is UNAUTHENTICATED
