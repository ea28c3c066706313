"""In-memory fakes of orders' ports, subclassing the real interfaces; one FakeStore plays
the database that every fake unit of work commits into."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.orders.domain.delivery import Delivery, DeliveryStatus
from services.orders.domain.events import DeliveryEvent
from services.orders.domain.idempotency import IdempotencyRecord
from services.orders.domain.quote import Quote, QuoteExpired, QuoteInvalid
from services.orders.domain.request import DeliveryRequest
from services.orders.service_layer.access import Audience
from services.orders.service_layer.ports import (
    DeliveryRepository,
    IdempotencyKeys,
    Pricing,
    UnitOfWork,
)
from services.runtime.errors import FieldViolation, InvalidArgument
from services.runtime.page_tokens import Cursor
from services.shared_kernel.money import Money

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass
class FakeStore:
    """What fake units of work commit into: deliveries, keys and published events."""

    deliveries: dict[str, Delivery] = field(default_factory=dict)
    keys: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    events: list[DeliveryEvent] = field(default_factory=list)
    # Run once right after the next read of a delivery: a writer that slips in between.
    after_next_read: Callable[[], None] | None = None


class FakeDeliveries(DeliveryRepository):
    """Reads the store and stages writes for the unit of work's commit."""

    def __init__(self, store: FakeStore, staged: dict[str, Delivery]) -> None:
        self._store, self._staged = store, staged

    async def add(self, delivery: Delivery) -> None:
        self._staged[delivery.id] = delivery

    async def get(self, delivery_id: str) -> Delivery | None:
        found = self._staged.get(delivery_id) or self._store.deliveries.get(delivery_id)
        interfere, self._store.after_next_read = self._store.after_next_read, None
        if interfere is not None:
            interfere()
        return found

    async def replace(self, delivery: Delivery, *, expected_version: int) -> bool:
        stored = self._store.deliveries.get(delivery.id)
        if stored is None or stored.version != expected_version:
            return False
        self._staged[delivery.id] = delivery
        return True

    async def page(
        self,
        audience: Audience,
        statuses: frozenset[DeliveryStatus],
        after: Cursor | None,
        limit: int,
    ) -> list[Delivery]:
        visible = [
            d
            for d in self._store.deliveries.values()
            if audience.can_see(d)
            and (not statuses or d.status in statuses)
            and (after is None or (d.created_at, d.id) < (after.created_at, after.item_id))
        ]
        visible.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return visible[:limit]


class FakeIdempotencyKeys(IdempotencyKeys):
    """Keys in the store; a claim of a live key returns its holder."""

    def __init__(self, store: FakeStore, staged: dict[tuple[str, str], IdempotencyRecord]) -> None:
        self._store, self._staged = store, staged

    async def find(self, owner_id: str, key: str, *, since: datetime) -> IdempotencyRecord | None:
        record = self._store.keys.get((owner_id, key))
        return record if record is not None and record.created_at >= since else None

    async def claim(
        self, record: IdempotencyRecord, *, since: datetime
    ) -> IdempotencyRecord | None:
        holder = await self.find(record.owner_id, record.key, since=since)
        if holder is not None:
            return holder
        self._staged[(record.owner_id, record.key)] = record
        return None


class FakeUnitOfWork(UnitOfWork):
    """Stages every write and applies it, with the events, only on commit."""

    def __init__(self, store: FakeStore) -> None:
        super().__init__()
        self.store = store
        self._staged_deliveries: dict[str, Delivery] = {}
        self._staged_keys: dict[tuple[str, str], IdempotencyRecord] = {}
        self.deliveries = FakeDeliveries(store, self._staged_deliveries)
        self.idempotency_keys = FakeIdempotencyKeys(store, self._staged_keys)

    async def _begin(self) -> None:
        self._staged_deliveries.clear()
        self._staged_keys.clear()

    async def _commit(self, events: Sequence[DeliveryEvent]) -> None:
        self.store.deliveries.update(self._staged_deliveries)
        self.store.keys.update(self._staged_keys)
        self.store.events.extend(events)

    async def _rollback(self) -> None:
        self._staged_deliveries.clear()
        self._staged_keys.clear()


class FakePricing(Pricing):
    """Honours quotes it issued ("quote-N") until `now` and refuses any other; prices everything
    at 5.00 EUR."""

    def __init__(self) -> None:
        self.issued = 0
        self.now = NOW
        self.out_of_area = False
        self.calls: list[str] = []

    async def verify(self, quote_id: str, request: DeliveryRequest) -> Quote:
        self.calls.append(f"verify {quote_id}")
        if not quote_id.startswith("quote-"):
            raise QuoteInvalid("was not issued by pricing or has been altered")
        expires_at = NOW + timedelta(minutes=15)
        if self.now >= expires_at:
            raise QuoteExpired(expires_at.isoformat())
        return Quote(quote_id, Money(500, "EUR"), expires_at)

    async def quote(self, request: DeliveryRequest) -> Quote:
        self.calls.append("quote")
        if self.out_of_area:
            raise InvalidArgument(
                [FieldViolation("delivery.dropoff.point", "too far")], reason="OUT_OF_SERVICE_AREA"
            )
        self.issued += 1
        return Quote(f"quote-{self.issued}", Money(500, "EUR"), NOW + timedelta(minutes=15))


class Clock:
    """A clock the test moves by hand; each reading advances it by a microsecond, so
    that deliveries created in one test have distinct create times."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now
