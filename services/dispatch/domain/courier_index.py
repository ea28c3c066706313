"""Every courier the fleet replicas report, and a grid of those free for an offer.

Derived state: it lives in memory and is rebuilt from the replicas' snapshots after
every reconnect and every fail-over, so it is never persisted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from services.dispatch.domain.couriers import Courier, CourierStatus, carries
from services.dispatch.domain.grid import DEFAULT_CELL_DEGREES, PointGrid
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import ParcelSize


class CourierIndex:
    """A courier is free for an offer when they are IDLE, connected and located, their
    replica's Link is open with its snapshot applied, and they hold no offer of ours."""

    def __init__(self, cell_degrees: float = DEFAULT_CELL_DEGREES) -> None:
        self._couriers: dict[str, Courier] = {}
        self._by_replica: dict[str, set[str]] = {}
        self._ready: set[str] = set()
        self._holds: dict[str, str] = {}  # courier id -> the offer of ours they hold
        self._free = PointGrid(cell_degrees)

    def get(self, courier_id: str) -> Courier | None:
        return self._couriers.get(courier_id)

    def count_of(self, replica_id: str) -> int:
        return len(self._by_replica.get(replica_id, ()))

    def counts_by_status(self) -> Counter[CourierStatus]:
        """Fleet's statuses, except that a courier holding our offer counts as OFFERED."""
        return Counter(
            CourierStatus.OFFERED if c.courier_id in self._holds else c.status
            for c in self._couriers.values()
        )

    def replace_replica(self, replica_id: str, couriers: Iterable[Courier]) -> None:
        """A snapshot: the replica holds exactly `couriers` now; the others are dropped.
        A courier another replica reported at a newer version stays with that one."""
        self.drop_replica(replica_id)
        for courier in couriers:
            self.apply(courier)

    def drop_replica(self, replica_id: str) -> None:
        for courier_id in self._by_replica.pop(replica_id, set()):
            del self._couriers[courier_id]
            self._free.remove(courier_id)

    def set_ready(self, replica_id: str, ready: bool) -> None:
        """Whether offers can reach the replica's couriers (Link open, snapshot applied)."""
        if ready:
            self._ready.add(replica_id)
        else:
            self._ready.discard(replica_id)
        for courier_id in self._by_replica.get(replica_id, ()):
            self._refresh(self._couriers[courier_id])

    def apply(self, courier: Courier) -> bool:
        """Take a reported state unless it is older than the one held; True if taken."""
        held = self._couriers.get(courier.courier_id)
        if held is not None:
            if courier.version < held.version:
                return False
            if courier.latitude is None or courier.located_at < held.located_at:
                courier.latitude, courier.longitude = held.latitude, held.longitude
                courier.located_at = held.located_at
            if held.fleet_replica_id != courier.fleet_replica_id:
                self._by_replica[held.fleet_replica_id].discard(courier.courier_id)
        self._couriers[courier.courier_id] = courier
        self._by_replica.setdefault(courier.fleet_replica_id, set()).add(courier.courier_id)
        self._refresh(courier)
        return True

    def move(
        self, courier_id: str, replica_id: str, latitude: float, longitude: float, at: float
    ) -> bool:
        """A position fix; ignored from another replica or older than the one held."""
        courier = self._couriers.get(courier_id)
        if courier is None or courier.fleet_replica_id != replica_id or at < courier.located_at:
            return False
        courier.latitude, courier.longitude, courier.located_at = latitude, longitude, at
        if courier_id in self._free:
            self._free.place(courier_id, latitude, longitude)
        elif self._is_free(courier):
            self._refresh(courier)
        return True

    def hold(self, courier_id: str, offer_id: str) -> None:
        """The courier holds our offer: not free until `release`, known to us or not yet."""
        self._holds[courier_id] = offer_id
        self._free.remove(courier_id)

    def release(self, courier_id: str, offer_id: str) -> None:
        if self._holds.get(courier_id) == offer_id:
            del self._holds[courier_id]
            courier = self._couriers.get(courier_id)
            if courier is not None:
                self._refresh(courier)

    def assume_assigned(self, courier_id: str, delivery_id: str) -> None:
        """The courier's offer became their assignment; fleet's next report (a newer
        version) confirms or corrects this."""
        courier = self._couriers.get(courier_id)
        if courier is not None:
            courier.status, courier.delivery_id, courier.offer_id = (
                CourierStatus.ASSIGNED, delivery_id, ""
            )  # fmt: skip
            self._refresh(courier)

    def is_free(self, courier_id: str) -> bool:
        return courier_id in self._free

    def has_free(self) -> bool:
        return len(self._free) > 0

    def nearest_free(
        self, pickup: GeoPoint, size: ParcelSize, max_meters: float, accept: Callable[[str], bool]
    ) -> tuple[Courier, float] | None:
        """The closest free courier whose vehicle carries `size` and who passes `accept`."""
        couriers = self._couriers

        def eligible(courier_id: str) -> bool:
            return carries(couriers[courier_id].vehicle, size) and accept(courier_id)

        found = self._free.nearest(pickup.latitude, pickup.longitude, max_meters, eligible)
        return None if found is None else (couriers[found[0]], found[1])

    def _is_free(self, courier: Courier) -> bool:
        return (
            courier.status is CourierStatus.IDLE
            and courier.connected
            and courier.latitude is not None
            and courier.fleet_replica_id in self._ready
            and courier.courier_id not in self._holds
        )

    def _refresh(self, courier: Courier) -> None:
        if (
            self._is_free(courier)
            and courier.latitude is not None
            and courier.longitude is not None
        ):
            self._free.place(courier.courier_id, courier.latitude, courier.longitude)
        else:
            self._free.remove(courier.courier_id)
