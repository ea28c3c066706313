"""The interfaces tracking's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

from services.runtime.context import Caller
from services.tracking.domain.progress import CourierFix, StatusChange


@dataclass(frozen=True, slots=True)
class DeliverySighting:
    """A delivery as orders holds it now: the state tracking reasons about, and `record`,
    orders' own encoding of the whole delivery, passed to the watcher untouched."""

    state: StatusChange
    record: bytes


class DeliveryLookup(abc.ABC):
    """orders, which alone decides who may see a delivery."""

    @abc.abstractmethod
    async def get(self, delivery_id: str, caller: Caller) -> DeliverySighting:
        """The delivery as `caller` may see it; NotFound or PermissionDenied otherwise."""


class Subscription(abc.ABC):
    """One upstream subscription; closing it stops its deliveries."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class EventSource(abc.ABC):
    """The broker's feeds. Callbacks run on the event loop and must not block."""

    @abc.abstractmethod
    async def delivery_changes(
        self, delivery_id: str, deliver: Callable[[StatusChange], None]
    ) -> Subscription:
        """Every status change of one delivery from now on (repeats possible)."""

    @abc.abstractmethod
    async def courier_positions(
        self, courier_id: str, deliver: Callable[[CourierFix], None]
    ) -> Subscription:
        """The courier's last known fix, if any, then every new one."""
