"""orders on a real PostgreSQL and NATS while its pricing is away: quotes are checked with the
keys orders already holds, so creates that present one go on; a create that needs pricing
(no quote, or no key yet) is UNAVAILABLE with RetryInfo, never INTERNAL, and loses nothing.

Each test starts its own orders and pricing, so stopping pricing disturbs no other test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import pytest
from google.rpc import error_details_pb2

from lastmile.orders.v1 import delivery_pb2, orders_pb2, orders_pb2_grpc
from lastmile.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from services.devstack import LocalNats, LocalPostgres, free_port
from services.orders.bootstrap import bootstrap as orders_bootstrap
from services.orders.config import OrdersSettings
from services.pricing.bootstrap import bootstrap as pricing_bootstrap
from services.pricing.config import PricingSettings
from services.runtime.status import rich_status
from tests.integration.stack import orders_with_pricing
from tests.orders_examples import account, create_request, delivery
from tests.servers import serving
from tests.status_details import error_info


async def quote_id(pricing_address: str) -> str:
    terms = delivery()
    async with grpc.aio.insecure_channel(pricing_address) as channel:
        reply = await pricing_pb2_grpc.PricingServiceStub(channel).CreateQuote(
            pricing_pb2.CreateQuoteRequest(
                terms=pricing_pb2.DeliveryTerms(
                    pickup=terms.pickup.point,
                    dropoff=terms.dropoff.point,
                    parcel=terms.parcel,
                    service_level=terms.service_level,
                )
            )
        )
    return reply.quote.quote_id


def assert_unavailable_with_retry_info(raised: grpc.aio.AioRpcError) -> None:
    assert raised.code() is grpc.StatusCode.UNAVAILABLE
    assert error_info(raised).reason == "UPSTREAM_UNAVAILABLE"
    status = rich_status(raised)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry) for detail in status.details)
    assert retry.retry_delay.seconds == 1


@asynccontextmanager
async def orders_without_pricing(
    postgres: LocalPostgres, nats: LocalNats
) -> AsyncIterator[orders_pb2_grpc.OrdersServiceAsyncStub]:
    """orders whose pricing never answered: it holds no quote key."""
    name = f"orders_{uuid.uuid4().hex[:8]}"
    await postgres.ensure_database(name)
    settings = OrdersSettings(
        grpc_port=0,
        admin_port=-1,
        database_url=postgres.dsn(name),
        nats_url=nats.url,
        pricing_target=f"127.0.0.1:{free_port()}",
        pricing_deadline_seconds=0.5,
    )
    async with (
        serving(orders_bootstrap(settings)) as address,
        grpc.aio.insecure_channel(address) as channel,
    ):
        yield orders_pb2_grpc.OrdersServiceStub(channel)


async def test_with_pricing_down_a_create_with_a_quote_goes_on_and_one_without_is_unavailable(
    postgres: LocalPostgres, nats: LocalNats
) -> None:
    customer = account("customer")
    async with orders_with_pricing(postgres, nats.url) as served:
        first = await quote_id(served.pricing_address)
        presented = await quote_id(served.pricing_address)
        async with grpc.aio.insecure_channel(served.address) as channel:
            orders = orders_pb2_grpc.OrdersServiceStub(channel)
            await orders.CreateDelivery(
                create_request("before", quote_id=first), metadata=customer.metadata
            )
            await served.pricing.stop()

            created = await orders.CreateDelivery(
                create_request("during", quote_id=presented), metadata=customer.metadata
            )
            assert created.delivery.status == delivery_pb2.DELIVERY_STATUS_PENDING
            assert created.delivery.quote_id == presented
            assert created.delivery.price.amount_minor == 500

            with pytest.raises(grpc.aio.AioRpcError) as unpriced:
                await orders.CreateDelivery(create_request("unquoted"), metadata=customer.metadata)
            assert_unavailable_with_retry_info(unpriced.value)
            listed = await orders.ListDeliveries(
                orders_pb2.ListDeliveriesRequest(), metadata=customer.metadata
            )
    assert len(listed.deliveries) == 2


async def test_a_quote_orders_cannot_check_for_want_of_pricings_keys_is_unavailable(
    postgres: LocalPostgres, nats: LocalNats
) -> None:
    customer = account("customer")
    pricing = pricing_bootstrap(PricingSettings(grpc_port=0, admin_port=-1))
    async with serving(pricing) as pricing_address:
        presented = await quote_id(pricing_address)
    async with orders_without_pricing(postgres, nats) as orders:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await orders.CreateDelivery(
                create_request("keyless", quote_id=presented), metadata=customer.metadata
            )
        assert_unavailable_with_retry_info(raised.value)
        listed = await orders.ListDeliveries(
            orders_pb2.ListDeliveriesRequest(), metadata=customer.metadata
        )
    assert list(listed.deliveries) == []
