"""Service regions: the shipped file covers every simulator city, lookups at and around
borders, and every kind of bad file refused with the file and the problem named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h3  # type: ignore[import-untyped]
import pytest

from services.runtime.errors import InvalidArgument
from services.shared_kernel.regions import (
    RegionFileError,
    Regions,
    shipped_regions,
)
from services.simulator.city import CITIES

VIENNA = (48.2082, 16.3738)
# The shipped file splits Germany between berlin (east) and hamburg (west) at 10.5 E.
SPLIT_LONGITUDE = 10.5


def square(south: float, west: float, size: float) -> list[list[float]]:
    return [[south, west], [south + size, west], [south + size, west + size], [south, west + size]]


def written(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "regions.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def refusal(tmp_path: Path, document: Any) -> str:
    path = written(tmp_path, document)
    with pytest.raises(RegionFileError) as refused:
        Regions.load(path)
    message = str(refused.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize("city", sorted(CITIES))
def test_every_simulator_city_box_lies_inside_the_region_of_that_name(city: str) -> None:
    box, regions = CITIES[city], shipped_regions()
    steps = [i / 10 for i in range(11)]
    for lat_step in steps:
        for lng_step in steps:
            latitude = box.south + (box.north - box.south) * lat_step
            longitude = box.west + (box.east - box.west) * lng_step
            assert regions.region_of(latitude, longitude) == city, (latitude, longitude)


def test_the_shipped_file_has_one_region_per_simulator_city() -> None:
    assert shipped_regions().names == frozenset(CITIES)


def test_the_german_cities_the_tests_use_fall_in_berlin_or_hamburg() -> None:
    regions = shipped_regions()
    assert regions.region_of(48.1372, 11.5756) == "berlin"  # Munich
    assert regions.region_of(51.0504, 13.7373) == "berlin"  # Dresden
    assert regions.region_of(50.9375, 6.9603) == "hamburg"  # Cologne
    assert regions.region_of(50.1109, 8.6821) == "hamburg"  # Frankfurt


def test_a_point_outside_every_region_has_none() -> None:
    regions = shipped_regions()
    assert regions.region_of(*VIENNA) is None
    assert regions.region_of(0.0, 0.0) is None
    assert regions.region_of(-33.87, 151.21) is None  # Sydney


def test_crossing_the_berlin_hamburg_border_finds_a_region_at_every_step_and_switches() -> None:
    regions = shipped_regions()
    longitudes = [SPLIT_LONGITUDE - 0.2 + step * 0.002 for step in range(201)]
    found = [regions.region_of(52.0, longitude) for longitude in longitudes]
    assert set(found) == {"hamburg", "berlin"}  # no gap between adjacent regions
    assert all(r == "hamburg" for r, lng in zip(found, longitudes, strict=True) if lng < 10.45)
    assert all(r == "berlin" for r, lng in zip(found, longitudes, strict=True) if lng > 10.55)


def test_leaving_a_region_across_its_outer_border_finds_none() -> None:
    regions = shipped_regions()  # paris spans 1.8 E to 2.9 E
    assert regions.region_of(48.85, 2.75) == "paris"
    assert regions.region_of(48.85, 3.05) is None


def test_a_region_given_as_compact_cells_matches_the_same_region_as_a_polygon(
    tmp_path: Path,
) -> None:
    polygon = square(48.5, 1.8, 0.7)
    cells = h3.polygon_to_cells(h3.LatLngPoly([tuple(c) for c in polygon]), 6)
    compact = sorted(h3.compact_cells(cells))
    assert len(compact) < len(cells)
    as_cells = Regions.load(
        written(tmp_path, {"resolution": 6, "regions": [{"name": "p", "cells": compact}]})
    )
    as_polygon = Regions.parse({"resolution": 6, "regions": [{"name": "p", "polygon": polygon}]})
    assert as_cells == as_polygon


def test_a_pickup_outside_every_region_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as refused:
        shipped_regions().region_of_pickup("delivery.pickup.point", *VIENNA)
    assert refused.value.reason == "OUT_OF_SERVICE_AREA"
    assert [v.field for v in refused.value.violations] == ["delivery.pickup.point"]
    assert shipped_regions().region_of_pickup("p", 52.52, 13.40) == "berlin"


def test_overlapping_regions_are_refused_naming_both(tmp_path: Path) -> None:
    document = {
        "resolution": 6,
        "regions": [
            {"name": "east", "polygon": square(52.0, 13.0, 1.0)},
            {"name": "west", "polygon": square(52.0, 12.5, 1.0)},
        ],
    }
    assert "regions 'east' and 'west' overlap" in refusal(tmp_path, document)


def test_a_file_without_regions_is_refused_as_empty(tmp_path: Path) -> None:
    assert "'regions' is empty" in refusal(tmp_path, {"resolution": 6, "regions": []})


def test_a_region_smaller_than_any_cell_is_refused_as_empty(tmp_path: Path) -> None:
    tiny = {"resolution": 6, "regions": [{"name": "tiny", "polygon": square(52.0, 13.0, 0.001)}]}
    assert "region 'tiny' is empty" in refusal(tmp_path, tiny)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "is not JSON"),
        ([], "must be a JSON object"),
        ({"regions": [{"name": "a", "cells": []}]}, "'resolution' must be"),
        ({"resolution": 16, "regions": []}, "not between 0 and 15"),
        ({"resolution": 6, "regions": [{"name": "Berlin Mitte", "cells": []}]}, "name"),
        ({"resolution": 6, "regions": [{"name": "a"}]}, "exactly one of 'polygon' or 'cells'"),
        ({"resolution": 6, "regions": [{"name": "a", "polygon": [[1, 2]]}]}, "at least 3"),
        ({"resolution": 6, "regions": [{"name": "a", "polygon": [[1, 2], [3], [4, 5]]}]}, "[3]"),
        ({"resolution": 6, "regions": [{"name": "a", "cells": ["zz"]}]}, "not an H3 cell"),
        (
            {"resolution": 4, "regions": [{"name": "a", "cells": ["861f1d48fffffff"]}]},
            "finer than the file's resolution 4",
        ),
        (
            {"resolution": 6, "regions": [{"name": "a", "polygon": square(1, 1, 1)}] * 2},
            "defined twice",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_the_problem(
    tmp_path: Path, document: Any, problem: str
) -> None:
    assert problem in refusal(tmp_path, document)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RegionFileError, match=r"missing\.json: cannot be read"):
        Regions.load(tmp_path / "missing.json")
