"""The queue: every delivery without a courier yet, the waiting ones in matching order,
and all of them by age for the ops views."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import TypeVar

from services.dispatch.domain.deliveries import PendingDelivery, QueueState
from services.dispatch.domain.offers import Offer

Key = TypeVar("Key", tuple[int, datetime, str], tuple[datetime, str])


class DispatchQueue:
    """State changes go through the queue so that its two orders stay right.

    Both orders are sorted lists kept with bisect: new deliveries land at the end,
    so insertion is a cheap append-like memmove even with thousands queued."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingDelivery] = {}
        self._waiting: list[tuple[int, datetime, str]] = []
        self._by_age: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._pending

    def get(self, delivery_id: str) -> PendingDelivery | None:
        return self._pending.get(delivery_id)

    def add(self, delivery: PendingDelivery) -> bool:
        """Queue a delivery in whatever state it is in; False if it is already queued."""
        if delivery.delivery_id in self._pending:
            return False
        self._pending[delivery.delivery_id] = delivery
        bisect.insort(self._by_age, delivery.age_key)
        if delivery.state is QueueState.WAITING:
            bisect.insort(self._waiting, delivery.priority)
        return True

    def remove(self, delivery_id: str) -> PendingDelivery | None:
        delivery = self._pending.pop(delivery_id, None)
        if delivery is not None:
            _discard(self._by_age, delivery.age_key)
            if delivery.state is QueueState.WAITING:
                _discard(self._waiting, delivery.priority)
        return delivery

    def offer(self, delivery: PendingDelivery, offer: Offer) -> None:
        """WAITING -> OFFERED."""
        if delivery.state is not QueueState.WAITING:
            raise ValueError(f"delivery {delivery.delivery_id} is {delivery.state}, not WAITING")
        _discard(self._waiting, delivery.priority)
        delivery.state, delivery.offer = QueueState.OFFERED, offer
        delivery.offer_count += 1

    def assigning(self, delivery: PendingDelivery) -> None:
        """OFFERED -> ASSIGNING: the courier accepted."""
        if delivery.state is not QueueState.OFFERED:
            raise ValueError(f"delivery {delivery.delivery_id} is {delivery.state}, not OFFERED")
        delivery.state = QueueState.ASSIGNING

    def back_to_waiting(self, delivery: PendingDelivery) -> None:
        """The open offer ended without an assignment."""
        if delivery.state is QueueState.WAITING:
            return
        delivery.state, delivery.offer = QueueState.WAITING, None
        bisect.insort(self._waiting, delivery.priority)

    def waiting(self) -> list[PendingDelivery]:
        """The waiting deliveries in matching order (a copy: matching changes the queue)."""
        return [self._pending[key[2]] for key in self._waiting]

    def oldest(
        self, count: int, after: tuple[datetime, str] | None = None
    ) -> list[PendingDelivery]:
        """Up to `count` deliveries, oldest first, strictly after the keyset `after`."""
        start = 0 if after is None else bisect.bisect_right(self._by_age, after)
        return [self._pending[key[1]] for key in self._by_age[start : start + count]]


def _discard(keys: list[Key], key: Key) -> None:
    index = bisect.bisect_left(keys, key)
    if index < len(keys) and keys[index] == key:
        del keys[index]
