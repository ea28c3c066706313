"""In-memory fakes of tracking's ports, subclassing the real interfaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.runtime.context import Caller
from services.runtime.errors import NotFound
from services.tracking.domain.progress import CourierFix, DeliveryStatus, StatusChange
from services.tracking.service_layer.ports import (
    DeliveryLookup,
    DeliverySighting,
    EventSource,
    Subscription,
)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def change(
    version: int, status: DeliveryStatus, courier_id: str = "", delivery_id: str = "d-1"
) -> StatusChange:
    return StatusChange(delivery_id, status, version, T0 + timedelta(seconds=version), courier_id)


def fix(seconds: int, courier_id: str = "c-1", delivery_id: str = "d-1") -> CourierFix:
    return CourierFix(courier_id, delivery_id, 52.5, 13.4, T0 + timedelta(seconds=seconds))


@dataclass
class _FakeSubscription(Subscription):
    registry: dict[str, list[Callable[..., None]]]
    key: str
    deliver: Callable[..., None]

    async def close(self) -> None:
        self.registry[self.key].remove(self.deliver)


@dataclass
class FakeEvents(EventSource):
    """Counts subscriptions and lets a test publish into the open ones."""

    changes: dict[str, list[Callable[..., None]]] = field(default_factory=dict)
    positions: dict[str, list[Callable[..., None]]] = field(default_factory=dict)
    change_subscriptions: int = 0
    position_subscriptions: int = 0

    async def delivery_changes(
        self, delivery_id: str, deliver: Callable[[StatusChange], None]
    ) -> Subscription:
        self.change_subscriptions += 1
        self.changes.setdefault(delivery_id, []).append(deliver)
        return _FakeSubscription(self.changes, delivery_id, deliver)

    async def courier_positions(
        self, courier_id: str, deliver: Callable[[CourierFix], None]
    ) -> Subscription:
        self.position_subscriptions += 1
        self.positions.setdefault(courier_id, []).append(deliver)
        return _FakeSubscription(self.positions, courier_id, deliver)

    def publish_change(self, update: StatusChange) -> None:
        for deliver in list(self.changes.get(update.delivery_id, [])):
            deliver(update)

    def publish_fix(self, update: CourierFix) -> None:
        for deliver in list(self.positions.get(update.courier_id, [])):
            deliver(update)

    def open_subscriptions(self) -> int:
        return sum(map(len, self.changes.values())) + sum(map(len, self.positions.values()))


@dataclass
class FakeOrders(DeliveryLookup):
    """orders with one delivery, visible only to its owner."""

    state: StatusChange
    owner: str

    async def get(self, delivery_id: str, caller: Caller) -> DeliverySighting:
        if delivery_id != self.state.delivery_id or caller.account_id != self.owner:
            raise NotFound(f"delivery {delivery_id} not found")
        return DeliverySighting(self.state, b"record")
