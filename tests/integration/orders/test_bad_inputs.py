"""Every bad input of the public API gets its precise code, and INVALID_ARGUMENT names
each offending field by its path in the request."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import cast

import grpc
import pytest

from lastmile.common.v1 import geo_pb2, parcel_pb2, stop_pb2
from lastmile.orders.v1 import delivery_pb2, orders_internal_pb2, orders_pb2
from lastmile.pricing.v1 import pricing_pb2
from tests.integration.orders.conftest import OrdersStack
from tests.orders_examples import (
    DELIVERY_TEXT_FIELDS,
    Account,
    account,
    create_request,
    delivery,
    with_text,
)
from tests.status_details import error_info, field_violations

pytestmark = pytest.mark.slow
Edit = Callable[[orders_pb2.CreateDeliveryRequest], None]
ListRequest = orders_pb2.ListDeliveriesRequest


BAD_CREATES: dict[str, tuple[Edit, set[str]]] = {
    "no delivery": (lambda r: r.ClearField("delivery"), {"delivery"}),
    "no pickup": (lambda r: r.delivery.ClearField("pickup"), {"delivery.pickup"}),
    "no point": (lambda r: r.delivery.pickup.ClearField("point"), {"delivery.pickup.point"}),
    "latitude out of range": (
        lambda r: r.delivery.pickup.point.CopyFrom(geo_pb2.GeoPoint(latitude=91, longitude=181)),
        {"delivery.pickup.point.latitude", "delivery.pickup.point.longitude"},
    ),
    "no contact": (
        lambda r: r.delivery.dropoff.ClearField("contact"),
        {"delivery.dropoff.contact"},
    ),
    "bad phone and name": (
        lambda r: r.delivery.dropoff.contact.CopyFrom(stop_pb2.Contact(name=" ", phone="0301234")),
        {"delivery.dropoff.contact.name", "delivery.dropoff.contact.phone"},
    ),
    "blank address": (
        lambda r: setattr(r.delivery.dropoff, "address", ""),
        {"delivery.dropoff.address"},
    ),
    "long address": (
        lambda r: setattr(r.delivery.pickup, "address", "x" * 501),
        {"delivery.pickup.address"},
    ),
    "long instructions": (
        lambda r: setattr(r.delivery.pickup, "instructions", "x" * 501),
        {"delivery.pickup.instructions"},
    ),
    "no parcel": (lambda r: r.delivery.ClearField("parcel"), {"delivery.parcel"}),
    "bad parcel": (
        lambda r: r.delivery.parcel.CopyFrom(parcel_pb2.Parcel(weight_grams=30_001)),
        {"delivery.parcel.size", "delivery.parcel.weight_grams"},
    ),
    "no service level": (
        lambda r: setattr(r.delivery, "service_level", 0),
        {"delivery.service_level"},
    ),
    "key too long": (lambda r: setattr(r, "idempotency_key", "k" * 129), {"idempotency_key"}),
    "key not ascii": (lambda r: setattr(r, "idempotency_key", "ключ"), {"idempotency_key"}),
}


@pytest.mark.parametrize("case", list(BAD_CREATES))
async def test_an_invalid_create_names_every_bad_field(stack: OrdersStack, case: str) -> None:
    edit, fields = BAD_CREATES[case]
    request = create_request()
    edit(request)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(request, metadata=account("customer").metadata)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "VALIDATION_FAILED"
    assert field_violations(raised.value) == fields


async def test_a_key_in_the_field_and_a_different_one_in_metadata_is_invalid(
    stack: OrdersStack,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(
            create_request("field-key"), metadata=account("customer").with_key("header-key")
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == {"idempotency_key"}


async def test_a_far_dropoff_is_out_of_the_service_area(stack: OrdersStack) -> None:
    request = create_request()
    request.delivery.dropoff.point.CopyFrom(geo_pb2.GeoPoint(latitude=48.137, longitude=11.575))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(request, metadata=account("customer").metadata)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "OUT_OF_SERVICE_AREA"
    assert field_violations(raised.value) == {"delivery.dropoff.point"}


VIENNA = geo_pb2.GeoPoint(latitude=48.2082, longitude=16.3738)  # outside every region


async def test_a_pickup_outside_every_region_is_refused_and_nothing_is_created(
    stack: OrdersStack,
) -> None:
    merchant = account("merchant")
    request = create_request("vienna")
    request.delivery.pickup.point.CopyFrom(VIENNA)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(request, metadata=merchant.metadata)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "OUT_OF_SERVICE_AREA"
    assert field_violations(raised.value) == {"delivery.pickup.point"}
    owned = await stack.database.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE merchant_id = $1", merchant.account_id
    )
    assert owned == 0


async def test_no_quote_is_made_for_a_pickup_outside_every_region(stack: OrdersStack) -> None:
    terms = create_request().delivery
    request = pricing_pb2.CreateQuoteRequest(
        terms=pricing_pb2.DeliveryTerms(
            pickup=VIENNA,
            dropoff=terms.dropoff.point,
            parcel=terms.parcel,
            service_level=terms.service_level,
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.pricing.CreateQuote(request)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "OUT_OF_SERVICE_AREA"
    assert field_violations(raised.value) == {"terms.pickup"}


async def test_an_imported_item_outside_every_region_gets_its_own_error(
    stack: OrdersStack,
) -> None:
    inside = orders_pb2.ImportDeliveriesRequest(delivery=delivery(), idempotency_key="in")
    outside = orders_pb2.ImportDeliveriesRequest(delivery=delivery(), idempotency_key="out")
    outside.delivery.pickup.point.CopyFrom(VIENNA)

    async def items() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        for item in (inside, outside):
            yield item

    summary = await stack.orders.ImportDeliveries(items(), metadata=account("merchant").metadata)
    assert [c.index for c in summary.created] == [0]
    assert [(e.index, e.idempotency_key) for e in summary.errors] == [(1, "out")]
    assert error_info(summary.errors[0].status).reason == "OUT_OF_SERVICE_AREA"
    assert field_violations(summary.errors[0].status) == {"delivery.pickup.point"}


@pytest.mark.parametrize(
    ("delivery_id", "code"),
    [
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("not-a-uuid", grpc.StatusCode.NOT_FOUND),
        ("7d4f6a2e-0000-4000-8000-000000000000", grpc.StatusCode.NOT_FOUND),
    ],
    ids=["empty", "malformed", "unknown"],
)
async def test_get_and_cancel_of_a_missing_or_unknown_id(
    stack: OrdersStack, delivery_id: str, code: grpc.StatusCode
) -> None:
    ops = account("ops").metadata
    get = orders_pb2.GetDeliveryRequest(delivery_id=delivery_id)
    cancel = orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id)
    for call in (
        stack.orders.GetDelivery(get, metadata=ops),
        stack.orders.CancelDelivery(cancel, metadata=ops),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() is code


async def two_pages_token(stack: OrdersStack, owner: Account) -> str:
    for _ in range(2):
        await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    first = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(page_size=1), metadata=owner.metadata
    )
    assert first.next_page_token
    return first.next_page_token


def tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[3] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_bad_list_requests_are_invalid(stack: OrdersStack) -> None:
    owner = account("merchant")
    token = await two_pages_token(stack, owner)
    pending = [delivery_pb2.DELIVERY_STATUS_PENDING]
    unknown = cast(delivery_pb2.DeliveryStatus.ValueType, 99)
    bad = {
        "negative size": (ListRequest(page_size=-1), owner),
        "malformed token": (ListRequest(page_token="%%%not-base64"), owner),
        "tampered token": (ListRequest(page_token=tampered(token)), owner),
        "other filter": (ListRequest(page_token=token, statuses=pending), owner),
        "other caller": (ListRequest(page_token=token), account("merchant")),
        "unspecified status": (
            ListRequest(statuses=[delivery_pb2.DELIVERY_STATUS_UNSPECIFIED]),
            owner,
        ),
        "unknown status": (ListRequest(statuses=[unknown]), owner),
    }
    for case, (request, caller) in bad.items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stack.orders.ListDeliveries(request, metadata=caller.metadata)
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT, case
        assert field_violations(raised.value) <= {"page_size", "page_token", "statuses[0]"}, case
    # The untouched token still works.
    reply = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(page_token=token), metadata=owner.metadata
    )
    assert len(reply.deliveries) == 1


async def test_a_page_size_above_the_maximum_is_lowered_to_100(stack: OrdersStack) -> None:
    merchant = account("merchant")

    async def items() -> AsyncIterator[orders_pb2.ImportDeliveriesRequest]:
        for n in range(101):
            yield orders_pb2.ImportDeliveriesRequest(
                delivery=create_request().delivery, idempotency_key=f"k{n}"
            )

    await stack.orders.ImportDeliveries(items(), metadata=merchant.metadata)
    reply = await stack.orders.ListDeliveries(
        orders_pb2.ListDeliveriesRequest(page_size=1000), metadata=merchant.metadata
    )
    assert len(reply.deliveries) == 100
    assert reply.next_page_token


async def refused_cancel_state(stack: OrdersStack, owner: Account, delivery_id: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CancelDelivery(
            orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id), metadata=owner.metadata
        )
    assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "INVALID_STATE"
    return str(info.metadata["current_state"])


async def test_cancelling_after_pickup_is_refused_with_the_current_state(
    stack: OrdersStack,
) -> None:
    owner = account("customer")
    delivery_id = (
        await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    ).delivery.delivery_id
    by = {"delivery_id": delivery_id, "courier_id": "c", "offer_id": "o"}
    await stack.internal.AssignCourier(orders_internal_pb2.AssignCourierRequest(**by))
    await stack.internal.MarkPickedUp(orders_internal_pb2.MarkPickedUpRequest(**by))
    assert await refused_cancel_state(stack, owner, delivery_id) == "DELIVERY_STATUS_PICKED_UP"
    await stack.internal.MarkDelivered(orders_internal_pb2.MarkDeliveredRequest(**by))
    assert await refused_cancel_state(stack, owner, delivery_id) == "DELIVERY_STATUS_DELIVERED"


async def test_cancelling_twice_returns_the_cancelled_delivery_unchanged(
    stack: OrdersStack,
) -> None:
    owner = account("customer")
    delivery_id = (
        await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    ).delivery.delivery_id
    cancel = orders_pb2.CancelDeliveryRequest(delivery_id=delivery_id, reason="first")
    first = await stack.orders.CancelDelivery(cancel, metadata=owner.metadata)
    cancel.reason = "second"
    again = await stack.orders.CancelDelivery(cancel, metadata=owner.metadata)
    assert again.delivery == first.delivery


async def test_a_cancel_reason_longer_than_500_characters_is_invalid(stack: OrdersStack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CancelDelivery(
            orders_pb2.CancelDeliveryRequest(delivery_id="x", reason="r" * 501),
            metadata=account("customer").metadata,
        )
    assert field_violations(raised.value) == {"reason"}


@pytest.mark.parametrize("path", DELIVERY_TEXT_FIELDS)
@pytest.mark.parametrize("text", ["nul \x00 inside", "\x00", "bell\x07", "c1\x9b"])
async def test_a_control_character_in_any_text_field_is_invalid_and_names_it(
    stack: OrdersStack, path: str, text: str
) -> None:
    # NUL used to reach PostgreSQL, which refused it: INTERNAL instead of this.
    request = orders_pb2.CreateDeliveryRequest(
        delivery=with_text(create_request().delivery, path, text)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CreateDelivery(request, metadata=account("merchant").metadata)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "VALIDATION_FAILED"
    assert field_violations(raised.value) == {f"delivery.{path}"}
    assert f"delivery.{path}: must not contain control characters" in (raised.value.details() or "")


async def test_a_nul_in_the_cancel_reason_is_invalid(stack: OrdersStack) -> None:
    owner = account("customer")
    created = await stack.orders.CreateDelivery(create_request(), metadata=owner.metadata)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.CancelDelivery(
            orders_pb2.CancelDeliveryRequest(
                delivery_id=created.delivery.delivery_id, reason="changed\x00my mind"
            ),
            metadata=owner.metadata,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == {"reason"}
    still = await stack.orders.GetDelivery(
        orders_pb2.GetDeliveryRequest(delivery_id=created.delivery.delivery_id),
        metadata=owner.metadata,
    )
    assert still.delivery.status == delivery_pb2.DELIVERY_STATUS_PENDING


@pytest.mark.parametrize("delivery_id", ["\x00", "d\x00-1", "x" * 129])
async def test_a_malformed_delivery_id_is_invalid_rather_than_not_found(
    stack: OrdersStack, delivery_id: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.orders.GetDelivery(
            orders_pb2.GetDeliveryRequest(delivery_id=delivery_id),
            metadata=account("customer").metadata,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(raised.value) == {"delivery_id"}


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("+4915112345678", True),
        ("+12025550123", True),
        ("4915112345678", False),
        ("+0151123456", False),
        ("+49 151 123456", False),
        ("+4915112345678901", False),
        ("", False),
    ],
)
async def test_a_contact_phone_must_be_e164(stack: OrdersStack, phone: str, valid: bool) -> None:
    request = create_request()
    request.delivery.pickup.contact.phone = phone
    call = stack.orders.CreateDelivery(request, metadata=account("customer").metadata)
    if valid:
        assert (await call).delivery.pickup.contact.phone == phone
        return
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert field_violations(raised.value) == {"delivery.pickup.contact.phone"}
