"""Who is free for an offer: IDLE, connected, located, on a ready replica, holding no
offer of ours, on a vehicle that carries the parcel; and stale reports are ignored."""

from __future__ import annotations

from services.dispatch.domain.courier_index import CourierIndex
from services.dispatch.domain.couriers import Courier, CourierStatus, VehicleType, carries
from services.shared_kernel.geo import GeoPoint
from services.shared_kernel.parcel import ParcelSize

PICKUP = GeoPoint(52.52, 13.405)


def courier(
    courier_id: str = "c1",
    *,
    replica: str = "r1",
    status: CourierStatus = CourierStatus.IDLE,
    version: int = 1,
    vehicle: VehicleType = VehicleType.BICYCLE,
    connected: bool = True,
    at: float = 100.0,
) -> Courier:
    return Courier(
        courier_id, replica, vehicle, status, connected, version,
        latitude=PICKUP.latitude + 0.001, longitude=PICKUP.longitude, located_at=at,
    )  # fmt: skip


def index_with(*couriers: Courier, ready: bool = True) -> CourierIndex:
    index = CourierIndex()
    for reported in couriers:
        index.apply(reported)
        index.set_ready(reported.fleet_replica_id, ready)
    return index


def nearest(index: CourierIndex, size: ParcelSize = ParcelSize.SMALL) -> str | None:
    found = index.nearest_free(PICKUP, size, 5000, lambda _: True)
    return found[0].courier_id if found else None


def test_vehicles_carry_the_sizes_their_type_allows() -> None:
    assert carries(VehicleType.BICYCLE, ParcelSize.MEDIUM)
    assert not carries(VehicleType.BICYCLE, ParcelSize.LARGE)
    assert carries(VehicleType.MOTORBIKE, ParcelSize.LARGE)
    assert not carries(VehicleType.MOTORBIKE, ParcelSize.EXTRA_LARGE)
    for vehicle in (VehicleType.CARGO_BIKE, VehicleType.CAR, VehicleType.VAN):
        assert carries(vehicle, ParcelSize.EXTRA_LARGE)
    assert not carries(None, ParcelSize.SMALL)


def test_an_idle_connected_courier_on_a_ready_replica_is_free() -> None:
    assert nearest(index_with(courier())) == "c1"


def test_busy_disconnected_or_unready_couriers_are_not_free() -> None:
    assert nearest(index_with(courier(status=CourierStatus.ASSIGNED))) is None
    assert nearest(index_with(courier(connected=False))) is None
    assert nearest(index_with(courier(), ready=False)) is None


def test_a_courier_holding_our_offer_is_not_free_until_released() -> None:
    index = index_with(courier())
    index.hold("c1", "o1")
    assert nearest(index) is None
    index.release("c1", "another offer")
    assert nearest(index) is None
    index.release("c1", "o1")
    assert nearest(index) == "c1"


def test_the_vehicle_must_carry_the_parcel() -> None:
    index = index_with(courier(vehicle=VehicleType.BICYCLE))
    assert nearest(index, ParcelSize.EXTRA_LARGE) is None
    index.apply(courier("c2", vehicle=VehicleType.VAN))
    assert nearest(index, ParcelSize.EXTRA_LARGE) == "c2"


def test_a_report_older_than_the_one_held_is_ignored() -> None:
    index = index_with(courier(version=5))
    assert not index.apply(courier(version=4, status=CourierStatus.OFFLINE))
    assert nearest(index) == "c1"


def test_a_newer_report_from_another_replica_moves_the_courier_there() -> None:
    index = index_with(courier(replica="r1", version=1))
    index.set_ready("r2", True)
    assert index.apply(courier(replica="r2", version=2))
    index.replace_replica("r1", [])  # r1's snapshot no longer has them
    courier_now = index.get("c1")
    assert courier_now is not None
    assert courier_now.fleet_replica_id == "r2"
    assert nearest(index) == "c1"


def test_positions_from_another_replica_or_older_than_held_are_ignored() -> None:
    index = index_with(courier(at=100.0))
    assert not index.move("c1", "r2", 52.6, 13.4, 200.0)
    assert not index.move("c1", "r1", 52.6, 13.4, 50.0)
    assert index.move("c1", "r1", 52.6, 13.4, 150.0)
    assert nearest(index) is None  # moved 9 km away, out of the 5 km reach


def test_a_snapshot_replaces_everything_held_for_the_replica() -> None:
    index = index_with(courier("c1"), courier("c2"))
    index.replace_replica("r1", [courier("c3")])
    assert index.get("c1") is None
    assert index.get("c2") is None
    assert nearest(index) == "c3"
    assert index.count_of("r1") == 1
