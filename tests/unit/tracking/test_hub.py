"""DeliveryHub and DeliveryHubs: one upstream per delivery, fan-out to every watcher,
stale updates dropped, and a slow watcher dropped without holding up the others."""

from __future__ import annotations

import pytest

from services.tracking.domain.progress import DeliveryStatus
from services.tracking.service_layer.hub import DeliveryHubs, WatcherTooSlow
from tests.unit.tracking.fakes import FakeEvents, change, fix

ASSIGNED = DeliveryStatus.ASSIGNED
PICKED_UP = DeliveryStatus.PICKED_UP


async def test_every_watcher_of_a_delivery_gets_each_change() -> None:
    hubs = DeliveryHubs(FakeEvents(), queue_capacity=8)
    hub, first = await hubs.join("d-1")
    _, second = await hubs.join("d-1")
    hub.publish_change(change(2, ASSIGNED, "c-1"))
    assert await first.next(1) == change(2, ASSIGNED, "c-1")
    assert await second.next(1) == change(2, ASSIGNED, "c-1")


async def test_many_watchers_share_one_upstream_subscription_per_delivery() -> None:
    events = FakeEvents()
    hubs = DeliveryHubs(events, queue_capacity=8)
    joined = [await hubs.join("d-1") for _ in range(5)]
    events.publish_change(change(2, ASSIGNED, "c-1"))
    await joined[0][0].settle()
    assert (events.change_subscriptions, events.position_subscriptions) == (1, 1)
    assert len(hubs) == 1


async def test_the_last_watcher_leaving_closes_the_upstream_subscriptions() -> None:
    events = FakeEvents()
    hubs = DeliveryHubs(events, queue_capacity=8)
    hub, first = await hubs.join("d-1")
    _, second = await hubs.join("d-1")
    events.publish_change(change(2, ASSIGNED, "c-1"))
    await hub.settle()
    await hubs.leave(hub, first)
    assert events.open_subscriptions() == 2
    await hubs.leave(hub, second)
    assert (events.open_subscriptions(), len(hubs)) == (0, 0)


async def test_a_stale_or_repeated_change_is_not_fanned_out() -> None:
    events = FakeEvents()
    _, watcher = await DeliveryHubs(events, queue_capacity=8).join("d-1")
    events.publish_change(change(3, PICKED_UP, "c-1"))
    events.publish_change(change(2, ASSIGNED, "c-1"))
    events.publish_change(change(3, PICKED_UP, "c-1"))
    assert await watcher.next(1) == change(3, PICKED_UP, "c-1")
    assert await watcher.next(0.01) is None


async def test_positions_reach_watchers_only_from_the_carrying_courier_and_in_order() -> None:
    events = FakeEvents()
    hub, watcher = await DeliveryHubs(events, queue_capacity=8).join("d-1")
    events.publish_change(change(2, ASSIGNED, "c-1"))
    await hub.settle()
    assert await watcher.next(1) == change(2, ASSIGNED, "c-1")
    events.publish_fix(fix(10))
    events.publish_fix(fix(9))
    events.publish_fix(fix(11, delivery_id="another delivery"))
    assert await watcher.next(1) == fix(10)
    assert await watcher.next(0.01) is None


async def test_the_courier_subscription_ends_when_the_delivery_is_final() -> None:
    events = FakeEvents()
    hub, _ = await DeliveryHubs(events, queue_capacity=8).join("d-1")
    events.publish_change(change(2, ASSIGNED, "c-1"))
    await hub.settle()
    events.publish_change(change(3, DeliveryStatus.CANCELLED, "c-1"))
    await hub.settle()
    assert events.positions["c-1"] == []


async def test_a_slow_watcher_is_dropped_while_the_others_keep_receiving() -> None:
    events = FakeEvents()
    hubs = DeliveryHubs(events, queue_capacity=2)
    hub, slow = await hubs.join("d-1")
    _, reader = await hubs.join("d-1")
    events.publish_change(change(2, ASSIGNED, "c-1"))
    await hub.settle()
    assert await reader.next(1) == change(2, ASSIGNED, "c-1")
    for second in range(1, 5):
        events.publish_fix(fix(second))
        assert await reader.next(1) == fix(second)
    with pytest.raises(WatcherTooSlow) as dropped:
        await slow.next(1)
    assert dropped.value.reason == "WATCHER_TOO_SLOW"
    events.publish_fix(fix(5))
    assert await reader.next(1) == fix(5)
