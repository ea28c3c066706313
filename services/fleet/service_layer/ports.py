"""Interfaces the use cases need from the outside world; adapters implement them and
tests subclass them with fakes."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.fleet.domain.courier import Change, Courier
from services.fleet.domain.offers import OfferAnswer
from services.fleet.domain.values import Fix

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class CourierView:
    """A courier as others see it: the persistent state plus the latest position and
    the last sign of life, which live in memory."""

    courier: Courier
    last_fix: Fix | None
    last_seen: datetime | None


class CourierStore(abc.ABC):
    """Couriers' profiles, live state and shift history; each change is written with its
    CourierStatusChanged event in one transaction."""

    @abc.abstractmethod
    async def load(self, courier_id: str) -> CourierView | None: ...

    @abc.abstractmethod
    async def save(self, change: Change, view: CourierView) -> bool:
        """Write `change` (whose `after` is `view.courier`) if the stored courier is still
        at `change.before`'s version (or absent, for a first connect); False if another
        replica changed it first. Unavailable if the database does not answer."""

    @abc.abstractmethod
    async def save_all(self, changes: Sequence[tuple[Change, CourierView]]) -> None:
        """Write many changes at once (on shutdown); those that lost a race are skipped."""


class Orders(abc.ABC):
    """orders' courier transitions. Each raises the domain error orders reported
    (FailedPrecondition, Conflict, NotFound) or Unavailable."""

    @abc.abstractmethod
    async def mark_picked_up(self, delivery_id: str, courier_id: str, offer_id: str) -> None: ...

    @abc.abstractmethod
    async def mark_delivered(self, delivery_id: str, courier_id: str, offer_id: str) -> None: ...


class DispatchFeed(abc.ABC):
    """What fleet tells dispatch over the Link. Never blocks: each call queues a message
    (or drops it, for positions, when the Link is behind or down)."""

    @abc.abstractmethod
    def courier_changed(self, view: CourierView) -> None: ...

    @abc.abstractmethod
    def offer_answered(self, answer: OfferAnswer) -> None: ...

    @abc.abstractmethod
    def positions_moved(self, fixes: dict[str, Fix]) -> None: ...


@dataclass(frozen=True, slots=True)
class PositionReport:
    """A courier's newest fix for tracking, with the delivery they carry, if any."""

    courier_id: str
    fix: Fix
    delivery_id: str


class PositionPublisher(abc.ABC):
    """Positions for tracking: fire-and-forget, a lost one is replaced by the next."""

    @abc.abstractmethod
    async def publish(self, reports: Sequence[PositionReport]) -> None: ...
