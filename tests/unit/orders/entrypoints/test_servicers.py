"""orders' servicers over real gRPC, in process on port 0, wired by bootstrap with fakes:
claims and keys from metadata, translation, and per-item statuses of an import."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2

from lastmile.orders.v1 import (
    orders_internal_pb2,
    orders_internal_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
)
from services.orders.bootstrap import bootstrap
from services.orders.config import OrdersSettings
from services.orders.service_layer.ports import UnitOfWork
from tests.orders_examples import account, create_request, delivery
from tests.servers import serving
from tests.status_details import error_info, violations
from tests.unit.orders.fakes import Clock, FakePricing, FakeStore, FakeUnitOfWork


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    store = FakeStore()

    def unit_of_work() -> UnitOfWork:
        return FakeUnitOfWork(store)

    host = bootstrap(
        OrdersSettings(grpc_port=0, admin_port=-1),
        unit_of_work=unit_of_work,
        pricing=FakePricing(),
        clock=Clock(),
    )
    async with serving(host) as address, grpc.aio.insecure_channel(address) as opened:
        yield opened


async def test_the_idempotency_key_header_replays_the_first_delivery(
    channel: grpc.aio.Channel,
) -> None:
    orders = orders_pb2_grpc.OrdersServiceStub(channel)
    customer = account("customer")
    first = await orders.CreateDelivery(create_request(), metadata=customer.with_key("k-1"))
    again = await orders.CreateDelivery(create_request("k-1"), metadata=customer.metadata)
    assert again.delivery == first.delivery
    assert first.delivery.price.amount_minor == 500


async def test_roles_are_checked_before_anything_is_created(channel: grpc.aio.Channel) -> None:
    # A malformed request is refused by the contract's rules before any handler (and
    # so before the role check): these requests are valid, so the role decides.
    orders = orders_pb2_grpc.OrdersServiceStub(channel)
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (account("courier").metadata, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await orders.CreateDelivery(create_request("k-roles"), metadata=metadata)
        assert raised.value.code() is code


async def test_a_forged_quote_is_invalid_argument_naming_the_quote_id(
    channel: grpc.aio.Channel,
) -> None:
    orders = orders_pb2_grpc.OrdersServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await orders.CreateDelivery(
            create_request(quote_id="forged"), metadata=account("customer").metadata
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "QUOTE_INVALID"
    assert violations(raised.value) == {
        "delivery.quote_id": "was not issued by pricing or has been altered; "
        "ask for a new quote or omit quote_id"
    }
    assert "delivery.quote_id" in (raised.value.details() or "")


async def test_an_import_reports_failed_items_with_their_full_status(
    channel: grpc.aio.Channel,
) -> None:
    async def items() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        yield orders_pb2.ImportDeliveriesRequest(delivery=delivery(), idempotency_key="ok")
        yield orders_pb2.ImportDeliveriesRequest(delivery=delivery(service_level=0))

    summary = await orders_pb2_grpc.OrdersServiceStub(channel).ImportDeliveries(
        items(), metadata=account("merchant").metadata
    )
    assert (summary.item_count, [c.index for c in summary.created]) == (2, [0])
    [failed] = summary.errors
    assert (failed.index, failed.status.code) == (1, grpc.StatusCode.INVALID_ARGUMENT.value[0])
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert failed.status.details[0].Unpack(info)
    assert (info.reason, info.domain) == ("VALIDATION_FAILED", "orders.lastmile.dev")
    assert failed.status.details[1].Unpack(bad_request)
    assert {v.field for v in bad_request.field_violations} == {
        "delivery.service_level",
        "idempotency_key",
    }


async def test_the_internal_service_assigns_without_caller_claims(
    channel: grpc.aio.Channel,
) -> None:
    created = await orders_pb2_grpc.OrdersServiceStub(channel).CreateDelivery(
        create_request(), metadata=account("customer").metadata
    )
    assigned = await orders_internal_pb2_grpc.OrdersInternalServiceStub(channel).AssignCourier(
        orders_internal_pb2.AssignCourierRequest(
            delivery_id=created.delivery.delivery_id, courier_id="c", offer_id="o"
        )
    )
    assert (assigned.delivery.courier_id, assigned.delivery.version) == ("c", 2)
