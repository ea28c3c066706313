"""The courier state machine: statuses, versions, shifts, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.fleet.domain.courier import Courier
from services.fleet.domain.errors import (
    CourierInvalidState,
    NotOfferable,
    OfferExpired,
    OfferNotHeld,
)
from services.fleet.domain.values import (
    CourierStatus,
    HeldDelivery,
    HeldOffer,
    ShiftEnd,
    VehicleType,
)

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=5)


def idle() -> Courier:
    connected = Courier.first_connect("c-1", "s-1", NOW).after
    change = connected.go_online(VehicleType.BICYCLE, NOW)
    assert change is not None
    return change.after


def offer(expires_in: float = 30, offer_id: str = "o-1") -> HeldOffer:
    return HeldOffer(offer_id, "d-1", NOW + timedelta(seconds=expires_in), b"offer")


def offered(expires_in: float = 30) -> Courier:
    return idle().receive_offer(offer(expires_in), NOW).after


def assigned() -> Courier:
    accepted = offered().accept("o-1", NOW)
    assert accepted is not None
    change = accepted.after.assign(HeldDelivery("o-1", "d-1", NOW, b"assignment"), NOW)
    assert change is not None
    return change.after


def test_a_first_connect_creates_an_offline_courier_at_version_one() -> None:
    change = Courier.first_connect("c-1", "s-1", NOW)
    assert change.before is None
    assert (change.after.status, change.after.version, change.after.connected) == (
        CourierStatus.OFFLINE,
        1,
        True,
    )


def test_going_online_starts_a_shift_and_every_change_grows_the_version() -> None:
    connected = Courier.first_connect("c-1", "s-1", NOW).after
    change = connected.go_online(VehicleType.CAR, LATER)
    assert change is not None
    assert (change.after.status, change.after.version, change.shift_started) == (
        CourierStatus.IDLE,
        2,
        VehicleType.CAR,
    )
    assert change.after.updated_at == LATER


def test_going_online_again_on_the_same_vehicle_changes_nothing() -> None:
    assert idle().go_online(VehicleType.BICYCLE, LATER) is None


def test_a_new_vehicle_ends_the_shift_and_starts_another() -> None:
    change = idle().go_online(VehicleType.VAN, LATER)
    assert change is not None
    assert (change.shift_ended, change.shift_started) == (ShiftEnd.VEHICLE_CHANGED, VehicleType.VAN)


def test_only_a_connected_idle_courier_can_be_offered() -> None:
    with pytest.raises(NotOfferable):
        offered().receive_offer(offer(offer_id="o-2"), NOW)
    disconnected = idle().disconnect(NOW)
    assert disconnected is not None
    with pytest.raises(NotOfferable):
        disconnected.after.receive_offer(offer(), NOW)


def test_accepting_keeps_the_courier_offered_and_commits_them() -> None:
    change = offered().accept("o-1", NOW)
    assert change is not None
    assert change.after.status is CourierStatus.OFFERED
    assert change.after.committed
    assert change.after.accept("o-1", NOW) is None  # a repeat changes nothing


def test_an_answer_after_the_deadline_is_refused_as_expired() -> None:
    with pytest.raises(OfferExpired):
        offered(expires_in=1).accept("o-1", LATER)


def test_an_answer_to_another_offer_is_refused() -> None:
    with pytest.raises(OfferNotHeld):
        offered().decline("o-2", NOW)


def test_declining_frees_the_courier() -> None:
    after = offered().decline("o-1", NOW).after
    assert (after.status, after.offer) == (CourierStatus.IDLE, None)


def test_expiry_gives_back_an_unanswered_offer_but_never_an_accepted_one() -> None:
    expired = offered().expire_offer("o-1", LATER)
    assert expired is not None
    assert expired.after.status is CourierStatus.IDLE
    accepted = offered().accept("o-1", NOW)
    assert accepted is not None
    assert accepted.after.expire_offer("o-1", LATER) is None


def test_an_assignment_needs_the_offer_it_came_from() -> None:
    with pytest.raises(OfferNotHeld):
        idle().assign(HeldDelivery("o-1", "d-1", NOW, b""), NOW)
    assert assigned().status is CourierStatus.ASSIGNED


def test_pickup_then_dropoff_and_no_dropoff_before_pickup() -> None:
    courier = assigned()
    with pytest.raises(CourierInvalidState):
        courier.delivery_to_drop_off("d-1")
    picked = courier.picked_up(NOW)
    assert picked is not None
    assert picked.after.status is CourierStatus.DELIVERING
    assert picked.after.delivery_to_drop_off("d-1").picked_up
    assert picked.after.delivered(NOW).after.status is CourierStatus.IDLE


def test_confirming_a_delivery_not_held_is_refused_with_the_current_state() -> None:
    with pytest.raises(CourierInvalidState) as refused:
        idle().delivery_to_pick_up("d-9")
    assert refused.value.metadata == {"current_state": "COURIER_STATUS_IDLE"}


def test_going_offline_with_a_delivery_is_refused() -> None:
    with pytest.raises(CourierInvalidState):
        assigned().go_offline(NOW)


def test_going_offline_drops_an_unanswered_offer_and_ends_the_shift() -> None:
    change = offered().go_offline(NOW)
    assert change is not None
    assert (change.after.status, change.after.offer, change.shift_ended) == (
        CourierStatus.OFFLINE,
        None,
        ShiftEnd.WENT_OFFLINE,
    )


def test_a_timeout_takes_a_free_courier_offline_but_keeps_a_committed_one() -> None:
    timed_out = idle().time_out(NOW, ShiftEnd.HEARTBEAT_TIMEOUT)
    assert timed_out is not None
    assert (timed_out.after.status, timed_out.after.connected) == (CourierStatus.OFFLINE, False)
    kept = assigned().time_out(NOW, ShiftEnd.HEARTBEAT_TIMEOUT)
    assert kept is not None
    assert (kept.after.status, kept.after.connected) == (CourierStatus.ASSIGNED, False)


def test_a_fresh_start_drops_what_is_not_committed_and_a_resume_keeps_it() -> None:
    fresh = offered().connect("s-2", NOW, resume=False).after
    assert (fresh.status, fresh.offer, fresh.session_id) == (CourierStatus.OFFLINE, None, "s-2")
    resumed = offered().connect("s-2", NOW, resume=True).after
    assert resumed.status is CourierStatus.OFFERED
    assert assigned().connect("s-2", NOW, resume=False).after.status is CourierStatus.ASSIGNED


def test_a_withdrawal_takes_back_the_offer_or_the_delivery_made_from_it() -> None:
    assert assigned().withdraw("o-1", NOW) is not None
    assert idle().withdraw("o-1", NOW) is None
