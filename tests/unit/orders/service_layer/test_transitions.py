"""Cancel and the courier transitions over fakes: visibility, idempotent repeats, and a
conditional write that loses to a concurrent change."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.orders.domain.delivery import Delivery, DeliveryStatus, InvalidState
from services.orders.domain.events import DeliveryAssigned, DeliveryCancelled
from services.orders.service_layer.commands import (
    AssignCourier,
    CancelDelivery,
    MarkDelivered,
    MarkPickedUp,
)
from services.orders.service_layer.errors import DeliveryChanged, DeliveryNotFound
from services.runtime.context import Caller, Role
from tests.unit.orders.examples import COURIER, pending
from tests.unit.orders.service_layer.conftest import Orders

OWNER = Caller("customer-1", Role.CUSTOMER)


def stored(orders: Orders, delivery: Delivery | None = None) -> Delivery:
    delivery = delivery or pending()
    orders.store.deliveries[delivery.id] = delivery
    return delivery


async def test_the_owner_cancels_and_the_cancel_event_is_published(orders: Orders) -> None:
    delivery = stored(orders)
    cancelled = await orders.transitions.cancel(OWNER, CancelDelivery(delivery.id, "oops"))
    assert cancelled.status is DeliveryStatus.CANCELLED
    assert orders.store.deliveries[delivery.id] == cancelled
    assert [type(e) for e in orders.store.events] == [DeliveryCancelled]


@pytest.mark.parametrize(
    "caller",
    [Caller("customer-2", Role.CUSTOMER), Caller("customer-1", Role.MERCHANT)],
    ids=["another customer", "a merchant with the customer's id"],
)
async def test_someone_elses_delivery_is_not_found(orders: Orders, caller: Caller) -> None:
    delivery = stored(orders)
    with pytest.raises(DeliveryNotFound):
        await orders.transitions.cancel(caller, CancelDelivery(delivery.id))
    assert orders.store.deliveries[delivery.id] == delivery


async def test_ops_may_cancel_any_delivery(orders: Orders) -> None:
    delivery = stored(orders)
    cancelled = await orders.transitions.cancel(
        Caller("ops-1", Role.OPS), CancelDelivery(delivery.id)
    )
    assert cancelled.status is DeliveryStatus.CANCELLED


async def test_a_courier_walks_a_delivery_to_the_dropoff_with_one_event_per_step(
    orders: Orders,
) -> None:
    delivery = stored(orders)
    await orders.transitions.assign_courier(AssignCourier(delivery.id, COURIER))
    await orders.transitions.mark_picked_up(MarkPickedUp(delivery.id, COURIER))
    done = await orders.transitions.mark_delivered(MarkDelivered(delivery.id, COURIER))
    again = await orders.transitions.mark_delivered(MarkDelivered(delivery.id, COURIER))
    assert again == done
    assert done.status is DeliveryStatus.DELIVERED
    assert [e.version for e in orders.store.events] == [2, 3, 4]


async def test_an_unknown_delivery_is_not_found(orders: Orders) -> None:
    with pytest.raises(DeliveryNotFound):
        await orders.transitions.assign_courier(AssignCourier("nope", COURIER))


async def test_an_assignment_that_loses_to_a_concurrent_cancel_is_a_conflict(
    orders: Orders,
) -> None:
    delivery = stored(orders)

    def cancel_commits_meanwhile() -> None:
        orders.store.deliveries[delivery.id] = delivery.cancel("", delivery.created_at).delivery

    orders.store.after_next_read = cancel_commits_meanwhile
    with pytest.raises(DeliveryChanged) as lost:
        await orders.transitions.assign_courier(AssignCourier(delivery.id, COURIER))
    assert lost.value.reason == "CONFLICT"
    assert orders.store.events == []
    # A retry reads the cancel and settles on the precise refusal.
    with pytest.raises(InvalidState):
        await orders.transitions.assign_courier(AssignCourier(delivery.id, COURIER))


async def test_a_repeat_that_finds_the_transition_made_writes_nothing(orders: Orders) -> None:
    assigned = pending().assign(COURIER, pending().created_at).delivery
    stored(orders, replace(assigned))
    result = await orders.transitions.assign_courier(AssignCourier(assigned.id, COURIER))
    assert result == assigned
    assert not any(isinstance(e, DeliveryAssigned) for e in orders.store.events)
