"""The interfaces the service layer needs from the outside world; adapters implement them."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.fleet_messages import FleetMessage
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.domain.verdicts import Assigned, NotAssigned
from services.runtime.errors import Unavailable

Clock = Callable[[], datetime]


class FleetRoutes(abc.ABC):
    """Delivers messages to fleet replicas over their Links."""

    @abc.abstractmethod
    def send(self, fleet_replica_id: str, message: FleetMessage) -> bool:
        """Queue `message` for the replica; False if it has no open Link (or it overflowed)."""


class AssignmentNotSettled(Exception):
    """orders did not decide (unreachable, deadline passed, a concurrent change won):
    ask again, and the idempotent call settles to Assigned or NotAssigned."""


class Orders(abc.ABC):
    """orders' conditional assignment, the final guard against assigning twice."""

    @abc.abstractmethod
    async def assign_courier(
        self, delivery_id: str, courier_id: str, offer_id: str
    ) -> Assigned | NotAssigned:
        """Raises AssignmentNotSettled when the answer may change on a retry."""


@dataclass(frozen=True, slots=True)
class QueueWrite:
    """One group commit: rows to update, deliveries to remove."""

    updated: Sequence[QueueRow] = field(default_factory=tuple)
    removed: Sequence[str] = field(default_factory=tuple)


class LeaderLease(abc.ABC):
    """Leadership while held. Queue writes go through the lease, so a replica that lost
    the lock can never overwrite its successor's queue."""

    @abc.abstractmethod
    async def lost(self) -> None:
        """Returns when leadership is lost (its connection died or stopped answering)."""

    @abc.abstractmethod
    async def load(self) -> list[StoredDelivery]:
        """The persisted queue, oldest first."""

    @abc.abstractmethod
    async def write(self, change: QueueWrite) -> None:
        """Apply one group commit, atomically."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Give leadership up (idempotent)."""


class LeaderLock(abc.ABC):
    """The one lock that makes a replica the active matcher."""

    @abc.abstractmethod
    async def try_acquire(self) -> LeaderLease | None:
        """The lease if the lock was free, None if another replica holds it."""


class IntakeTransaction(abc.ABC):
    """The inbox transaction an event is handled in."""

    @abc.abstractmethod
    async def insert_pending(self, terms: DeliveryTerms, enqueued_at: datetime) -> bool:
        """Persist a new WAITING delivery; False if it is already there."""

    @abc.abstractmethod
    async def delete_pending(self, delivery_id: str, *, unless_assigning_offer: str = "") -> None:
        """Drop the delivery, except while its assignment of `unless_assigning_offer` runs."""

    @abc.abstractmethod
    def after_commit(self, effect: Callable[[], None]) -> None:
        """Run `effect` once the transaction has committed (never if it rolls back)."""


class DeliveryFeed(abc.ABC):
    """The delivery events dispatch consumes; runs only while this replica leads."""

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...


class ServingStatus(abc.ABC):
    """What health checks report for dispatch's services."""

    @abc.abstractmethod
    async def set_serving(self, serving: bool) -> None: ...


class NotLeader(Unavailable):
    """This replica is a standby; fleet and ops must reach the active matcher."""

    def __init__(self) -> None:
        super().__init__("this dispatch replica is a standby, not the active matcher; reconnect")
