"""DeliveryWatch: snapshot first, then news only, heartbeats while quiet, and the end at
a final status; orders' refusal ends the watch before it starts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.runtime.context import Caller, Role
from services.runtime.errors import NotFound
from services.tracking.domain.progress import DeliveryStatus
from services.tracking.service_layer.hub import DeliveryHubs
from services.tracking.service_layer.watch import DeliveryWatch, Heartbeat, Snapshot, WatchUpdate
from tests.unit.tracking.fakes import FakeEvents, FakeOrders, change, fix

OWNER = Caller("customer-1", Role.CUSTOMER)


def watching(
    events: FakeEvents, *, heartbeat_seconds: float = 60
) -> tuple[DeliveryWatch, DeliveryHubs]:
    hubs = DeliveryHubs(events, queue_capacity=8)
    orders = FakeOrders(change(1, DeliveryStatus.PENDING), OWNER.account_id)
    return DeliveryWatch(hubs, orders, heartbeat_seconds=heartbeat_seconds), hubs


async def until_settled(hubs: DeliveryHubs, delivery_id: str) -> None:
    hub = hubs.get(delivery_id)
    assert hub is not None
    await hub.settle()


async def test_a_watcher_sees_the_snapshot_then_each_step_then_the_end() -> None:
    events = FakeEvents()
    watch, hubs = watching(events)
    async with watch.watching(OWNER, "d-1") as stream:
        await walk_a_delivery_to_its_end(stream, events, hubs)
    assert (len(hubs), events.open_subscriptions()) == (0, 0)


async def walk_a_delivery_to_its_end(
    stream: AsyncIterator[WatchUpdate], events: FakeEvents, hubs: DeliveryHubs
) -> None:
    first = await anext(stream)
    assert isinstance(first, Snapshot)
    assert (first.state.version, first.record) == (1, b"record")
    events.publish_change(change(1, DeliveryStatus.PENDING))
    events.publish_change(change(2, DeliveryStatus.ASSIGNED, "c-1"))
    assert await anext(stream) == change(2, DeliveryStatus.ASSIGNED, "c-1")
    await until_settled(hubs, "d-1")
    events.publish_fix(fix(5))
    assert await anext(stream) == fix(5)
    events.publish_change(change(3, DeliveryStatus.DELIVERED, "c-1"))
    assert await anext(stream) == change(3, DeliveryStatus.DELIVERED, "c-1")
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_quiet_watch_gets_heartbeats() -> None:
    watch, _ = watching(FakeEvents(), heartbeat_seconds=0.001)
    async with watch.watching(OWNER, "d-1") as stream:
        assert isinstance(await anext(stream), Snapshot)
        assert await anext(stream) == Heartbeat()


async def test_a_caller_orders_does_not_show_the_delivery_to_gets_not_found() -> None:
    events = FakeEvents()
    watch, hubs = watching(events)
    with pytest.raises(NotFound):
        async with watch.watching(Caller("someone-else", Role.CUSTOMER), "d-1") as stream:
            await anext(stream)
    assert (len(hubs), events.open_subscriptions()) == (0, 0)
