"""Courier kinematics: speed is respected, targets are reached, the city is never left."""

from __future__ import annotations

import random

import pytest

from services.shared_kernel.geo import GeoPoint
from services.simulator.city import CITIES
from services.simulator.movement import Traveller, bearing_degrees, step_towards
from services.simulator.vehicles import Vehicle, VehicleMix

ALEXANDERPLATZ = GeoPoint(52.5219, 13.4132)
TORSTRASSE = GeoPoint(52.5290, 13.4010)


def test_a_step_never_covers_more_than_the_allowed_distance() -> None:
    step = step_towards(ALEXANDERPLATZ, TORSTRASSE, max_meters=100)
    assert not step.arrived
    assert ALEXANDERPLATZ.distance_meters(step.position) == pytest.approx(100, rel=0.005)


def test_a_step_longer_than_the_remaining_way_ends_on_the_target() -> None:
    step = step_towards(ALEXANDERPLATZ, TORSTRASSE, max_meters=5_000)
    assert step.arrived
    assert step.position == TORSTRASSE


def test_heading_points_from_origin_to_target() -> None:
    north = GeoPoint(ALEXANDERPLATZ.latitude + 0.01, ALEXANDERPLATZ.longitude)
    east = GeoPoint(ALEXANDERPLATZ.latitude, ALEXANDERPLATZ.longitude + 0.01)
    assert bearing_degrees(ALEXANDERPLATZ, north) == pytest.approx(0, abs=0.01)
    assert bearing_degrees(ALEXANDERPLATZ, east) == pytest.approx(90, abs=0.1)


def test_a_traveller_reaches_its_target_at_its_speed() -> None:
    traveller = Traveller(ALEXANDERPLATZ, speed_mps=Vehicle.BICYCLE.city_speed_mps)
    traveller.head_for(TORSTRASSE)
    distance = ALEXANDERPLATZ.distance_meters(TORSTRASSE)
    seconds = 0
    while not traveller.advance(1.0).arrived:
        seconds += 1
    assert traveller.position == TORSTRASSE
    assert seconds == pytest.approx(distance / 4.5, abs=2)


def test_a_traveller_heading_to_random_waypoints_stays_inside_the_city() -> None:
    box, rng = CITIES["berlin"], random.Random(3)
    traveller = Traveller(box.random_point(rng), speed_mps=Vehicle.CAR.city_speed_mps * 50)
    for _ in range(5_000):
        if traveller.advance(1.0).arrived:
            traveller.head_for(box.random_point(rng))
        assert box.contains(traveller.position)


def test_a_traveller_without_a_target_stands_still() -> None:
    traveller = Traveller(ALEXANDERPLATZ, speed_mps=8)
    step = traveller.advance(10)
    assert (step.position, step.heading_degrees, step.arrived) == (ALEXANDERPLATZ, None, True)


def test_a_vehicle_mix_draws_only_vehicles_it_names() -> None:
    mix = VehicleMix.parse("bicycle=0.6, motorbike=0.4")
    drawn = {mix.draw(random.Random(n)) for n in range(200)}
    assert drawn == {Vehicle.BICYCLE, Vehicle.MOTORBIKE}


@pytest.mark.parametrize("text", ["", "rocket=1", "bicycle=x", "bicycle=-1", "car=0"])
def test_a_bad_vehicle_mix_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="vehicle"):
        VehicleMix.parse(text)


def test_bicycles_carry_only_small_and_medium_parcels() -> None:
    assert Vehicle.BICYCLE.carries("medium")
    assert not Vehicle.BICYCLE.carries("large")
    assert Vehicle.VAN.carries("extra_large")
