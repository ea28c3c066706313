"""City bounding boxes: parsing, sampling inside, and dropoff distance bounds."""

from __future__ import annotations

import random

import pytest

from services.shared_kernel.geo import GeoPoint
from services.simulator.city import CITIES, BoundingBox, random_dropoff


def test_a_box_is_parsed_from_two_corners_in_any_order() -> None:
    box = BoundingBox.parse("52.56,13.49,52.47,13.30")
    assert box == BoundingBox(south=52.47, west=13.30, north=52.56, east=13.49)


@pytest.mark.parametrize("text", ["52.5,13.4", "a,b,c,d", "52.5,13.4,52.5,13.6", "91,0,92,1"])
def test_a_box_without_area_or_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the input; either kind
        BoundingBox.parse(text)


@pytest.mark.parametrize("city", sorted(CITIES))
def test_random_points_fall_inside_the_city(city: str) -> None:
    box, rng = CITIES[city], random.Random(7)
    assert all(box.contains(box.random_point(rng)) for _ in range(2_000))


def test_dropoffs_are_inside_the_box_and_between_half_a_kilometre_and_six() -> None:
    box, rng = CITIES["berlin"], random.Random(11)
    for _ in range(1_000):
        pickup = box.random_point(rng)
        dropoff = random_dropoff(box, pickup, rng)
        assert box.contains(dropoff)
        assert 500 <= pickup.distance_meters(dropoff) <= 6_000


def test_a_box_too_small_for_any_dropoff_says_so() -> None:
    tiny = BoundingBox(52.5, 13.4, 52.5001, 13.4001)
    with pytest.raises(ValueError, match="no room"):
        random_dropoff(tiny, GeoPoint(52.50005, 13.40005), random.Random(1))
