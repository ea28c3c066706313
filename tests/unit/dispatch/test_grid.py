"""The grid finds the same nearest point as a brute-force scan, and moves in O(1)."""

from __future__ import annotations

import random

from services.dispatch.domain.grid import PointGrid, great_circle_meters

BERLIN = (52.52, 13.405)


def brute_force(
    points: dict[str, tuple[float, float]], at: tuple[float, float], max_meters: float
) -> tuple[str, float] | None:
    found = [(great_circle_meters(*at, *point), item) for item, point in points.items()]
    within = sorted(pair for pair in found if pair[0] <= max_meters)
    return (within[0][1], within[0][0]) if within else None


def test_the_nearest_point_is_the_one_a_brute_force_scan_finds() -> None:
    chance = random.Random(7)
    grid, points = PointGrid(), {}
    for number in range(2000):
        point = (BERLIN[0] + chance.uniform(-0.2, 0.2), BERLIN[1] + chance.uniform(-0.3, 0.3))
        points[f"c{number}"] = point
        grid.place(f"c{number}", *point)
    for _ in range(200):
        at = (BERLIN[0] + chance.uniform(-0.2, 0.2), BERLIN[1] + chance.uniform(-0.3, 0.3))
        assert grid.nearest(*at, 3000, lambda _: True) == brute_force(points, at, 3000)


def test_nothing_beyond_the_radius_is_found() -> None:
    grid = PointGrid()
    grid.place("far", BERLIN[0] + 0.1, BERLIN[1])  # about 11 km north
    assert grid.nearest(*BERLIN, 10_000, lambda _: True) is None
    assert grid.nearest(*BERLIN, 12_000, lambda _: True) is not None


def test_a_rejected_point_is_skipped_for_the_next_nearest() -> None:
    grid = PointGrid()
    grid.place("near", BERLIN[0] + 0.001, BERLIN[1])
    grid.place("farther", BERLIN[0] + 0.03, BERLIN[1])
    found = grid.nearest(*BERLIN, 10_000, lambda item: item != "near")
    assert found is not None
    assert found[0] == "farther"


def test_a_moved_point_is_found_where_it_went_and_not_where_it_was() -> None:
    grid = PointGrid()
    grid.place("c1", BERLIN[0] + 0.05, BERLIN[1])
    grid.place("c1", BERLIN[0] + 0.0005, BERLIN[1])
    found = grid.nearest(*BERLIN, 1000, lambda _: True)
    assert found is not None
    assert found[0] == "c1"
    assert found[1] < 100
    assert grid.nearest(BERLIN[0] + 0.05, BERLIN[1], 1000, lambda _: True) is None


def test_a_removed_point_is_never_found() -> None:
    grid = PointGrid()
    grid.place("c1", *BERLIN)
    grid.remove("c1")
    grid.remove("c1")  # removing twice is harmless
    assert len(grid) == 0
    assert grid.nearest(*BERLIN, 1000, lambda _: True) is None


def test_the_search_works_far_from_the_equator() -> None:
    grid, points = PointGrid(), {}
    chance = random.Random(3)
    tromso = (69.65, 18.96)
    for number in range(300):
        point = (tromso[0] + chance.uniform(-0.05, 0.05), tromso[1] + chance.uniform(-0.2, 0.2))
        points[f"c{number}"] = point
        grid.place(f"c{number}", *point)
    for _ in range(50):
        at = (tromso[0] + chance.uniform(-0.05, 0.05), tromso[1] + chance.uniform(-0.2, 0.2))
        assert grid.nearest(*at, 5000, lambda _: True) == brute_force(points, at, 5000)
