"""Bulk import over fakes: one outcome per item in stream order, the item cap, and keys
that must be unique within a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import replace

import pytest

from services.orders.domain.quote import QuoteInvalid
from services.orders.service_layer.commands import CreateDelivery, ImportItem
from services.runtime.context import Caller, Role
from services.runtime.errors import (
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
)
from services.shared_kernel.geo import GeoPoint
from tests.unit.orders.examples import REQUEST, request_with
from tests.unit.orders.service_layer.conftest import Orders

MERCHANT = Caller("merchant-1", Role.MERCHANT)


def valid(key: str) -> ImportItem:
    return ImportItem(key, CreateDelivery(REQUEST, key))


async def stream(items: Iterable[ImportItem]) -> AsyncIterator[ImportItem]:
    for item in items:
        yield item


async def test_each_item_is_created_or_reported_once_in_stream_order(orders: Orders) -> None:
    invalid = InvalidArgument([FieldViolation("delivery.pickup", "is required")])
    items = [
        valid("a"),
        ImportItem("b", invalid),
        valid("c"),
        valid("a"),
        ImportItem("e", CreateDelivery(request_with(customer_id="x"), "e")),
    ]
    summary = await orders.imports.import_deliveries(MERCHANT, stream(items))
    assert summary.item_count == 5
    assert [(c.index, c.replayed) for c in summary.created] == [(0, False), (2, False), (4, False)]
    assert [(f.index, f.idempotency_key) for f in summary.failed] == [(1, "b"), (3, "a")]
    assert summary.failed[0].error is invalid
    assert isinstance(summary.failed[1].error, InvalidArgument)
    assert summary.failed[1].error.violations == [
        FieldViolation("idempotency_key", "repeats the key of item 0")
    ]
    assert len(orders.store.deliveries) == 3


async def test_an_item_with_a_forged_quote_fails_alone_as_quote_invalid(orders: Orders) -> None:
    forged = ImportItem("f", CreateDelivery(request_with(quote_id="forged"), "f"))
    summary = await orders.imports.import_deliveries(MERCHANT, stream([valid("a"), forged]))
    assert [c.index for c in summary.created] == [0]
    [failed] = summary.failed
    assert isinstance(failed.error, QuoteInvalid)
    assert (failed.index, failed.error.reason) == (1, "QUOTE_INVALID")


async def test_items_beyond_the_cap_are_each_refused_as_resource_exhausted(
    orders: Orders,
) -> None:
    summary = await orders.imports.import_deliveries(
        MERCHANT, stream(valid(f"k{n}") for n in range(7))
    )
    assert summary.item_count == 7
    assert [c.index for c in summary.created] == [0, 1, 2, 3, 4]
    assert [f.index for f in summary.failed] == [5, 6]
    assert all(isinstance(f.error, ResourceExhausted) for f in summary.failed)


async def test_reimporting_the_same_keys_replays_every_item(orders: Orders) -> None:
    items = [valid(f"k{n}") for n in range(3)]
    first = await orders.imports.import_deliveries(MERCHANT, stream(items))
    again = await orders.imports.import_deliveries(MERCHANT, stream(items))
    assert [c.delivery_id for c in again.created] == [c.delivery_id for c in first.created]
    assert all(c.replayed for c in again.created)
    assert len(orders.store.deliveries) == 3


async def test_a_pricing_refusal_fails_only_its_item(orders: Orders) -> None:
    orders.pricing.out_of_area = True
    summary = await orders.imports.import_deliveries(MERCHANT, stream([valid("a")]))
    assert summary.created == []
    assert summary.failed[0].error.reason == "OUT_OF_SERVICE_AREA"


async def test_a_stream_that_breaks_off_with_bad_input_fails_the_import_with_that_error(
    orders: Orders,
) -> None:
    broken = InvalidArgument([], message="the request is not a valid message")

    async def breaking_off() -> AsyncIterator[ImportItem]:
        yield valid("a")
        raise broken

    with pytest.raises(InvalidArgument) as refused:
        await orders.imports.import_deliveries(MERCHANT, breaking_off())
    assert refused.value is broken


async def test_an_item_whose_pickup_is_outside_every_region_fails_alone(orders: Orders) -> None:
    vienna = replace(REQUEST.pickup, point=GeoPoint(48.2082, 16.3738))
    outside = ImportItem("b", CreateDelivery(request_with(pickup=vienna), "b"))
    summary = await orders.imports.import_deliveries(
        MERCHANT, stream([valid("a"), outside, valid("c")])
    )
    assert [c.index for c in summary.created] == [0, 2]
    assert [(f.index, f.error.reason) for f in summary.failed] == [(1, "OUT_OF_SERVICE_AREA")]
