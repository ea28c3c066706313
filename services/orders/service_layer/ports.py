"""Interfaces the use cases need from the outside world; adapters implement them and
tests subclass them with fakes."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from services.orders.domain.delivery import Delivery, DeliveryStatus
from services.orders.domain.events import DeliveryEvent
from services.orders.domain.idempotency import IdempotencyRecord
from services.orders.domain.quote import Quote
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.access import Audience
from services.runtime.page_tokens import Cursor

Clock = Callable[[], datetime]


class DeliveryRepository(abc.ABC):
    """Deliveries by id, and pages of them newest first."""

    @abc.abstractmethod
    async def add(self, delivery: Delivery) -> None: ...

    @abc.abstractmethod
    async def get(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None (also for an id that cannot be a delivery's)."""

    @abc.abstractmethod
    async def replace(self, delivery: Delivery, *, expected_version: int) -> bool:
        """Store `delivery` if the stored one is still at `expected_version`; False if
        another change committed first."""

    @abc.abstractmethod
    async def page(
        self,
        audience: Audience,
        statuses: frozenset[DeliveryStatus],
        after: Cursor | None,
        limit: int,
    ) -> list[Delivery]:
        """Up to `limit` deliveries `audience` may see, newest first, strictly after
        `after`; only those in `statuses` unless it is empty."""


class IdempotencyKeys(abc.ABC):
    """Which delivery each caller's idempotency key created."""

    @abc.abstractmethod
    async def find(self, owner_id: str, key: str, *, since: datetime) -> IdempotencyRecord | None:
        """The record of `key` if it was used at or after `since`."""

    @abc.abstractmethod
    async def claim(
        self, record: IdempotencyRecord, *, since: datetime
    ) -> IdempotencyRecord | None:
        """Take the key for `record`; None if taken, else the record of the call that
        holds it (since `since`). A concurrent claim waits until the holder commits or
        rolls back, so racers converge on one record."""


class UnitOfWork(abc.ABC):
    """One atomic change: deliveries, idempotency keys, and the events emitted inside it,
    which are written to the outbox by the same commit."""

    deliveries: DeliveryRepository
    idempotency_keys: IdempotencyKeys

    def __init__(self) -> None:
        self._events: list[DeliveryEvent] = []
        self._committed = False

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Whatever was not committed explicitly is rolled back, events included.
        self._events.clear()
        if not self._committed:
            await self._rollback()

    def emit(self, event: DeliveryEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        events, self._events = tuple(self._events), []
        await self._commit(events)
        self._committed = True

    async def add_and_commit(self, delivery: Delivery) -> None:
        """`deliveries.add(delivery)`, then `commit()`; an adapter may do both at once."""
        events, self._events = tuple(self._events), []
        await self._add_and_commit(delivery, events)
        self._committed = True

    async def replace_and_commit(self, delivery: Delivery, *, expected_version: int) -> bool:
        """`deliveries.replace(...)`, then `commit()` if it was stored; an adapter may do
        both at once. False, with nothing committed, if another change committed first."""
        events, self._events = tuple(self._events), []
        if not await self._replace_and_commit(delivery, expected_version, events):
            return False
        self._committed = True
        return True

    async def _add_and_commit(self, delivery: Delivery, events: Sequence[DeliveryEvent]) -> None:
        await self.deliveries.add(delivery)
        await self._commit(events)

    async def _replace_and_commit(
        self, delivery: Delivery, expected_version: int, events: Sequence[DeliveryEvent]
    ) -> bool:
        if not await self.deliveries.replace(delivery, expected_version=expected_version):
            return False
        await self._commit(events)
        return True

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _commit(self, events: Sequence[DeliveryEvent]) -> None:
        """Write `events` to the outbox and commit, atomically."""

    @abc.abstractmethod
    async def _rollback(self) -> None:
        """Undo everything since `_begin`; also called after a failed `_commit`."""


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Pricing(abc.ABC):
    """pricing, as orders needs it: confirm a presented quote, or quote afresh."""

    @abc.abstractmethod
    async def verify(self, quote_id: str, request: DeliveryRequest) -> Quote:
        """The quote, if it holds for these terms now. This is the one place that decides
        whether a presented quote is honoured: QuoteInvalid if it is forged, altered,
        malformed or for other terms, QuoteExpired once it has expired, Unavailable if
        no verdict could be had in time."""

    @abc.abstractmethod
    async def quote(self, request: DeliveryRequest) -> Quote:
        """A fresh quote; InvalidArgument if the terms cannot be served, Unavailable if
        pricing does not answer in time."""
