"""Fakes of the matcher's ports, subclassing the real interfaces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from services.dispatch.domain.couriers import Courier, CourierStatus, VehicleType
from services.dispatch.domain.deliveries import DeliveryTerms
from services.dispatch.domain.queue_rows import QueueRow, StoredDelivery
from services.dispatch.domain.verdicts import Assigned, NotAssigned
from services.dispatch.service_layer.ports import LeaderLease, Orders, QueueWrite
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.money import Money
from services.shared_kernel.parcel import Parcel, ParcelSize, ServiceLevel
from services.shared_kernel.stop import Contact, Stop

T = TypeVar("T")
PICKUP = GeoPoint(52.52, 13.405)
T0 = datetime(2030, 1, 1, tzinfo=UTC)


class FakeLease(LeaderLease):
    """The persisted queue in a dict; `gate` holds writes back while cleared."""

    def __init__(self, stored: list[StoredDelivery] | None = None) -> None:
        self.stored = stored or []
        self.rows: dict[str, QueueRow] = {}
        self.removed: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def lost(self) -> None:
        await asyncio.Event().wait()

    async def load(self) -> list[StoredDelivery]:
        return self.stored

    async def write(self, change: QueueWrite) -> None:
        await asyncio.sleep(0)  # a real write always suspends the writer
        await self.gate.wait()
        for row in change.updated:
            self.rows[row.delivery_id] = row
        for delivery_id in change.removed:
            self.rows.pop(delivery_id, None)
            self.removed.append(delivery_id)

    async def release(self) -> None:
        pass


class ScriptedOrders(Orders):
    """Answers AssignCourier from a script: verdicts, or exceptions to raise."""

    def __init__(self, *script: Assigned | NotAssigned | Exception) -> None:
        self.script = list(script) or [Assigned(T0)]
        self.calls: list[tuple[str, str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def assign_courier(
        self, delivery_id: str, courier_id: str, offer_id: str
    ) -> Assigned | NotAssigned:
        self.calls.append((delivery_id, courier_id, offer_id))
        await self.gate.wait()
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def until(check: Callable[[], T | None], what: str, limit: float = 5) -> T:
    """Poll `check` while the loop runs the matcher's tasks; the limit bounds a broken run."""
    give_up = time.monotonic() + limit
    while not (found := check()):
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.001)
    return found


def terms(
    delivery_id: str,
    *,
    level: ServiceLevel = ServiceLevel.STANDARD,
    size: ParcelSize = ParcelSize.SMALL,
    minutes_ago: int = 0,
) -> DeliveryTerms:
    contact = Contact("Ada Lovelace", "+4915112345678")
    return DeliveryTerms(
        delivery_id=delivery_id,
        pickup=Stop("Alexanderplatz 1", PICKUP, contact),
        dropoff=Stop("Torstraße 1", GeoPoint(52.53, 13.405), contact),
        parcel=Parcel(size, 1000),
        service_level=level,
        price=Money(1000, "EUR"),
        created_at=T0 - timedelta(minutes=minutes_ago),
    )


def courier(
    courier_id: str,
    *,
    north: float = 0.001,
    status: CourierStatus = CourierStatus.IDLE,
    version: int = 1,
    offer_id: str = "",
    delivery_id: str = "",
    replica: str = "r1",
) -> Courier:
    return Courier(
        courier_id, replica, VehicleType.BICYCLE, status, True, version, offer_id=offer_id,
        delivery_id=delivery_id, latitude=PICKUP.latitude + north, longitude=PICKUP.longitude,
        located_at=1.0,
    )  # fmt: skip
