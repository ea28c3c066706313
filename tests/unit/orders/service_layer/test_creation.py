"""Creating deliveries over fakes: pricing decisions, ownership and idempotency keys."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from services.orders.domain.events import DeliveryCreated
from services.orders.domain.idempotency import IdempotencyKeyReused
from services.orders.domain.quote import QuoteExpired, QuoteInvalid
from services.orders.service_layer.commands import CreateDelivery
from services.orders.service_layer.errors import CustomerNotYours
from services.runtime.context import Caller, Role
from services.runtime.errors import InvalidArgument
from services.shared_kernel.geo import GeoPoint
from tests.unit.orders.examples import REQUEST, request_with
from tests.unit.orders.service_layer.conftest import Orders

CUSTOMER = Caller("customer-1", Role.CUSTOMER)
MERCHANT = Caller("merchant-1", Role.MERCHANT)


async def test_a_new_delivery_is_stored_pending_with_its_created_event(orders: Orders) -> None:
    created = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST))
    delivery = created.delivery
    assert not created.replayed
    assert orders.store.deliveries == {delivery.id: delivery}
    assert orders.store.events == [
        DeliveryCreated(delivery.id, 1, delivery.created_at, "berlin", delivery)
    ]
    assert (delivery.customer_id, delivery.merchant_id) == ("customer-1", None)


async def test_a_merchant_owns_what_it_creates_and_may_name_a_customer(orders: Orders) -> None:
    created = await orders.creation.create(
        MERCHANT, CreateDelivery(request_with(customer_id="customer-7"))
    )
    assert (created.delivery.merchant_id, created.delivery.customer_id) == (
        "merchant-1",
        "customer-7",
    )


async def test_a_customer_may_name_only_themselves(orders: Orders) -> None:
    await orders.creation.create(CUSTOMER, CreateDelivery(request_with(customer_id="customer-1")))
    with pytest.raises(CustomerNotYours):
        await orders.creation.create(
            CUSTOMER, CreateDelivery(request_with(customer_id="customer-2"))
        )


async def test_an_honoured_quote_sets_the_price_without_asking_for_another(orders: Orders) -> None:
    created = await orders.creation.create(
        CUSTOMER, CreateDelivery(request_with(quote_id="quote-5"))
    )
    assert created.delivery.quote_id == "quote-5"
    assert orders.pricing.calls == ["verify quote-5"]


async def test_a_forged_quote_refuses_the_create_instead_of_pricing_it_again(
    orders: Orders,
) -> None:
    with pytest.raises(QuoteInvalid) as refused:
        await orders.creation.create(CUSTOMER, CreateDelivery(request_with(quote_id="forged")))
    assert refused.value.reason == "QUOTE_INVALID"
    assert [v.field for v in refused.value.violations] == ["delivery.quote_id"]
    assert orders.pricing.calls == ["verify forged"]
    assert orders.store.deliveries == {}
    assert orders.store.events == []


async def test_an_expired_quote_refuses_the_create_and_says_when_it_expired(
    orders: Orders,
) -> None:
    orders.pricing.now += timedelta(hours=1)
    with pytest.raises(QuoteExpired) as refused:
        await orders.creation.create(CUSTOMER, CreateDelivery(request_with(quote_id="quote-5")))
    assert refused.value.reason == "QUOTE_EXPIRED"
    assert "expired at 2026" in refused.value.message
    assert orders.pricing.calls == ["verify quote-5"]
    assert orders.store.deliveries == {}


async def test_a_refused_quote_leaves_its_idempotency_key_free_for_the_corrected_request(
    orders: Orders,
) -> None:
    with pytest.raises(QuoteInvalid):
        await orders.creation.create(
            CUSTOMER, CreateDelivery(request_with(quote_id="forged"), "key-1")
        )
    created = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    assert not created.replayed
    assert orders.store.deliveries == {created.delivery.id: created.delivery}


async def test_a_replay_returns_the_delivery_even_after_its_quote_has_expired(
    orders: Orders,
) -> None:
    quoted = CreateDelivery(request_with(quote_id="quote-5"), "key-1")
    first = await orders.creation.create(CUSTOMER, quoted)
    orders.pricing.now += timedelta(hours=1)
    again = await orders.creation.create(CUSTOMER, quoted)
    assert again.replayed
    assert again.delivery == first.delivery
    assert orders.pricing.calls == ["verify quote-5"]


async def test_terms_pricing_cannot_serve_create_nothing(orders: Orders) -> None:
    orders.pricing.out_of_area = True
    with pytest.raises(InvalidArgument):
        await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST))
    assert orders.store.deliveries == {}
    assert orders.store.events == []


async def test_a_repeated_key_replays_the_delivery_without_pricing_again(orders: Orders) -> None:
    first = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    again = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    assert again.delivery == first.delivery
    assert again.replayed
    assert orders.pricing.calls == ["quote"]
    assert len(orders.store.events) == 1


async def test_a_key_reused_for_another_request_is_refused(orders: Orders) -> None:
    await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    with pytest.raises(IdempotencyKeyReused):
        await orders.creation.create(
            CUSTOMER, CreateDelivery(request_with(quote_id="quote-3"), "key-1")
        )
    assert len(orders.store.deliveries) == 1


async def test_concurrent_creates_with_one_key_converge_on_the_first_committed(
    orders: Orders,
) -> None:
    results = await asyncio.gather(
        *(orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1")) for _ in range(5))
    )
    assert len({r.delivery.id for r in results}) == 1
    assert [r.replayed for r in results].count(False) == 1
    assert len(orders.store.deliveries) == len(orders.store.events) == 1


async def test_keys_expire_after_24_hours_and_then_name_a_new_delivery(orders: Orders) -> None:
    first = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    orders.clock.now += timedelta(hours=24, seconds=1)
    later = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    assert later.delivery.id != first.delivery.id
    assert not later.replayed


async def test_keys_belong_to_their_caller(orders: Orders) -> None:
    one = await orders.creation.create(CUSTOMER, CreateDelivery(REQUEST, "key-1"))
    other = await orders.creation.create(
        Caller("customer-2", Role.CUSTOMER), CreateDelivery(REQUEST, "key-1")
    )
    assert one.delivery.id != other.delivery.id


async def test_a_pickup_outside_every_region_is_refused_before_pricing_and_stores_nothing(
    orders: Orders,
) -> None:
    vienna = replace(REQUEST.pickup, point=GeoPoint(48.2082, 16.3738))
    with pytest.raises(InvalidArgument) as refused:
        await orders.creation.create(CUSTOMER, CreateDelivery(request_with(pickup=vienna), "k"))
    assert refused.value.reason == "OUT_OF_SERVICE_AREA"
    assert [v.field for v in refused.value.violations] == ["delivery.pickup.point"]
    assert (orders.store.deliveries, orders.store.events, orders.pricing.calls) == ({}, [], [])


async def test_a_delivery_belongs_to_the_region_of_its_pickup_not_its_dropoff(
    orders: Orders,
) -> None:
    paris = replace(REQUEST.pickup, point=GeoPoint(48.8566, 2.3522))
    created = await orders.creation.create(CUSTOMER, CreateDelivery(request_with(pickup=paris)))
    assert created.delivery.region == "paris"
    assert [event.region for event in orders.store.events] == ["paris"]
