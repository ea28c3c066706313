"""A delivery's status changes and its courier's fixes, and the rule that decides which
of them are news: a change must raise the version, a fix must be newer and belong to the
courier currently carrying the delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where a delivery is in its lifecycle, as orders reports it."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED)

    @property
    def courier_on_the_way(self) -> bool:
        """Whether watchers are shown the courier's positions."""
        return self in (DeliveryStatus.ASSIGNED, DeliveryStatus.PICKED_UP)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A delivery's state after one transition; `version` orders the transitions."""

    delivery_id: str
    status: DeliveryStatus
    version: int
    changed_at: datetime
    courier_id: str = ""
    cancel_reason: str = ""


@dataclass(frozen=True, slots=True)
class CourierFix:
    """One location of a courier, for the delivery they were carrying when it was taken."""

    courier_id: str
    delivery_id: str
    latitude: float
    longitude: float
    recorded_at: datetime
    accuracy_meters: float = 0.0
    heading_degrees: float | None = None
    speed_meters_per_second: float | None = None


@dataclass
class DeliveryProgress:
    """What one observer (a watcher, or a hub) has seen of one delivery."""

    current: StatusChange | None = None
    last_fix: CourierFix | None = None

    @property
    def finished(self) -> bool:
        return self.current is not None and self.current.status.is_final

    @property
    def followed_courier(self) -> str | None:
        """The courier whose positions matter now, if any."""
        current = self.current
        if current is None or not current.status.courier_on_the_way or not current.courier_id:
            return None
        return current.courier_id

    def apply_change(self, change: StatusChange) -> bool:
        """Take `change` if it is newer than what was seen; False if stale or repeated."""
        if self.current is not None and change.version <= self.current.version:
            return False
        self.current = change
        if self.last_fix is not None and self.last_fix.courier_id != self.followed_courier:
            self.last_fix = None
        return True

    def apply_fix(self, fix: CourierFix) -> bool:
        """Take `fix` if it is the carrying courier's, for this delivery, and newer."""
        current = self.current
        if current is None or fix.courier_id != self.followed_courier:
            return False
        if fix.delivery_id != current.delivery_id:
            return False
        if self.last_fix is not None and fix.recorded_at <= self.last_fix.recorded_at:
            return False
        self.last_fix = fix
        return True
