"""The customer's path at the gRPC level: quote, create, get, list page by page, cancel;
and how orders prices a delivery: at the quote it is given, which must hold, or afresh."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from lastmile.common.v1 import parcel_pb2
from lastmile.orders.v1 import delivery_pb2, orders_pb2
from lastmile.pricing.v1 import pricing_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.orders_examples import account, create_request, delivery
from tests.status_details import error_info, violations

pytestmark = pytest.mark.slow


async def quote_for(stack: OrdersStack, terms_of: delivery_pb2.Delivery) -> pricing_pb2.Quote:
    reply = await stack.pricing.CreateQuote(
        pricing_pb2.CreateQuoteRequest(
            terms=pricing_pb2.DeliveryTerms(
                pickup=terms_of.pickup.point,
                dropoff=terms_of.dropoff.point,
                parcel=terms_of.parcel,
                service_level=terms_of.service_level,
            )
        )
    )
    return reply.quote


async def test_a_customer_quotes_creates_reads_lists_and_cancels_a_delivery(
    stack: OrdersStack,
) -> None:
    customer = account("customer")
    quote = await quote_for(stack, delivery())
    created = (
        await stack.orders.CreateDelivery(
            create_request(quote_id=quote.quote_id), metadata=customer.metadata
        )
    ).delivery
    assert created.status == delivery_pb2.DELIVERY_STATUS_PENDING
    assert created.customer_id == customer.account_id
    assert created.merchant_id == ""
    assert created.quote_id == quote.quote_id
    assert created.price == quote.price
    assert created.version == 1
    assert created.pickup == delivery().pickup

    fetched = await stack.orders.GetDelivery(
        orders_pb2.GetDeliveryRequest(delivery_id=created.delivery_id), metadata=customer.metadata
    )
    assert fetched.delivery == created

    listed = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(), metadata=customer.metadata
    )
    assert [d.delivery_id for d in listed.deliveries] == [created.delivery_id]
    assert listed.next_page_token == ""

    cancelled = (
        await stack.orders.CancelDelivery(
            orders_pb2.CancelDeliveryRequest(
                delivery_id=created.delivery_id, reason="changed mind"
            ),
            metadata=customer.metadata,
        )
    ).delivery
    assert cancelled.status == delivery_pb2.DELIVERY_STATUS_CANCELLED
    assert cancelled.cancel_reason == "changed mind"
    assert cancelled.version == 2
    assert cancelled.HasField("cancel_time")


async def test_listing_pages_newest_first_without_repeats_even_while_new_ones_arrive(
    stack: OrdersStack,
) -> None:
    merchant = account("merchant")
    created = [
        (await stack.orders.CreateDelivery(create_request(), metadata=merchant.metadata)).delivery
        for _ in range(7)
    ]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stack.orders.ListDeliveries(
            orders_pb2.ListDeliveriesRequest(page_size=3, page_token=token),
            metadata=merchant.metadata,
        )
        seen += [d.delivery_id for d in page.deliveries]
        pages += 1
        if pages == 1:
            # A delivery created mid-way is newer than the cursor: it never shifts later pages.
            await stack.orders.CreateDelivery(create_request(), metadata=merchant.metadata)
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [d.delivery_id for d in reversed(created)]


async def test_a_status_filter_lists_only_those_statuses(stack: OrdersStack) -> None:
    customer = account("customer")
    ids = [
        (
            await stack.orders.CreateDelivery(create_request(), metadata=customer.metadata)
        ).delivery.delivery_id
        for _ in range(3)
    ]
    await stack.orders.CancelDelivery(
        orders_pb2.CancelDeliveryRequest(delivery_id=ids[1]), metadata=customer.metadata
    )
    pending = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(statuses=[delivery_pb2.DELIVERY_STATUS_PENDING]),
        metadata=customer.metadata,
    )
    cancelled = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(statuses=[delivery_pb2.DELIVERY_STATUS_CANCELLED]),
        metadata=customer.metadata,
    )
    assert [d.delivery_id for d in pending.deliveries] == [ids[2], ids[0]]
    assert [d.delivery_id for d in cancelled.deliveries] == [ids[1]]


async def test_without_a_quote_orders_asks_pricing_for_one(stack: OrdersStack) -> None:
    created = (
        await stack.orders.CreateDelivery(create_request(), metadata=account("customer").metadata)
    ).delivery
    assert (created.price.amount_minor, created.price.currency_code) == (500, "EUR")
    verified = await stack.pricing_internal.VerifyQuote(
        pricing_pb2.VerifyQuoteRequest(
            quote_id=created.quote_id, terms=(await quote_for(stack, delivery())).terms
        )
    )
    assert verified.quote.price == created.price


async def test_an_expired_quote_is_refused_as_a_failed_precondition(stack: OrdersStack) -> None:
    customer = account("customer")
    quote = await quote_for(stack, delivery())
    stack.pricing_clock.offset = timedelta(hours=1)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.orders.CreateDelivery(
                create_request("quoted-1", quote_id=quote.quote_id), metadata=customer.metadata
            )
    finally:
        stack.pricing_clock.offset = timedelta()
    assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "QUOTE_EXPIRED"
    assert info.metadata["expire_time"] == quote.expire_time.ToJsonString().replace("Z", "+00:00")
    assert "expired" in (raised.value.details() or "")
    # The refused call claimed nothing: the same key creates the delivery without the quote.
    created = await stack.orders.CreateDelivery(
        create_request("quoted-1"), metadata=customer.metadata
    )
    assert created.delivery.status == delivery_pb2.DELIVERY_STATUS_PENDING
    assert created.delivery.price == quote.price


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ("not-a-quote", "was not issued by pricing or has been altered"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.AAAA", "was not issued by pricing"),
    ],
    ids=["garbage", "unsigned"],
)
async def test_a_forged_quote_is_refused_as_invalid(
    stack: OrdersStack, forged: str, why: str
) -> None:
    customer = account("customer")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(
            create_request(quote_id=forged), metadata=customer.metadata
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "QUOTE_INVALID"
    assert violations(raised.value)["delivery.quote_id"].startswith(why)
    listed = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(), metadata=customer.metadata
    )
    assert list(listed.deliveries) == []


async def test_a_quote_for_other_terms_is_refused_as_invalid(stack: OrdersStack) -> None:
    express = await quote_for(stack, delivery(service_level=parcel_pb2.SERVICE_LEVEL_EXPRESS))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(
            create_request(quote_id=express.quote_id), metadata=account("customer").metadata
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "QUOTE_INVALID"
    assert violations(raised.value) == {
        "delivery.quote_id": "was issued for different delivery terms; "
        "ask for a new quote or omit quote_id"
    }
