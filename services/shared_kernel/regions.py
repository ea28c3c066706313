"""Service regions: named, disjoint sets of H3 cells, loaded from one file, and the lookup
of the region a point lies in (every delivery belongs to the region of its pickup).

The file is JSON: `{"resolution": 6, "regions": [{"name": "berlin", "polygon": [[lat, lng],
...]}, {"name": "paris", "cells": ["861fb4...", ...]}]}`. A region gives either a polygon,
compiled here to the cells whose centres it contains, or cells at the file's resolution or
coarser (a compacted set). A cell in two regions, no region, or a malformed entry is a
RegionFileError that names the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import h3  # type: ignore[import-untyped]  # h3 4.5 ships no type information

from services.runtime.errors import FieldViolation, InvalidArgument

SHIPPED_REGIONS_FILE = Path(__file__).with_name("regions.json")

# Region names become one NATS subject token (`lastmile.delivery.created.<region>`).
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class RegionFileError(ValueError):
    """The regions file cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"regions file {path}: {problem}")


class OutsideEveryRegion(InvalidArgument):
    """A pickup that no region serves."""

    def __init__(self, field: str, latitude: float, longitude: float) -> None:
        super().__init__(
            [FieldViolation(field, f"({latitude}, {longitude}) lies outside every service region")],
            reason="OUT_OF_SERVICE_AREA",
        )


@dataclass(frozen=True)
class Regions:
    """Disjoint regions as H3 cells at one resolution: a lookup is one cell index and
    one dictionary read."""

    resolution: int
    region_by_cell: Mapping[str, str]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.region_by_cell.values())

    def region_of(self, latitude: float, longitude: float) -> str | None:
        """The region containing the point, or None outside every region."""
        return self.region_by_cell.get(h3.latlng_to_cell(latitude, longitude, self.resolution))

    def region_of_pickup(self, field: str, latitude: float, longitude: float) -> str:
        """The pickup's region; OutsideEveryRegion naming `field` when there is none."""
        region = self.region_of(latitude, longitude)
        if region is None:
            raise OutsideEveryRegion(field, latitude, longitude)
        return region

    @classmethod
    def load(cls, path: Path | str) -> Regions:
        """Read and check a regions file; RegionFileError names the file and the problem."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as unreadable:
            raise RegionFileError(path, f"cannot be read ({unreadable.strerror})") from None
        except json.JSONDecodeError as malformed:
            raise RegionFileError(path, f"is not JSON ({malformed})") from None
        return cls.parse(document, path)

    @classmethod
    def parse(cls, document: Any, path: Path | str = "<inline>") -> Regions:
        if not isinstance(document, dict):
            raise RegionFileError(path, "must be a JSON object with 'resolution' and 'regions'")
        resolution = document.get("resolution")
        if not isinstance(resolution, int) or isinstance(resolution, bool):
            raise RegionFileError(path, "'resolution' must be an H3 resolution, 0 to 15")
        if not 0 <= resolution <= 15:
            raise RegionFileError(path, f"'resolution' {resolution} is not between 0 and 15")
        entries = document.get("regions")
        if not isinstance(entries, list) or not entries:
            raise RegionFileError(path, "'regions' is empty: it must list at least one region")
        region_by_cell: dict[str, str] = {}
        names: set[str] = set()
        for index, entry in enumerate(entries):
            name, cells = _region(entry, index, resolution, path)
            if name in names:
                raise RegionFileError(path, f"region {name!r} is defined twice")
            names.add(name)
            if not cells:
                raise RegionFileError(path, f"region {name!r} is empty: it covers no cell")
            for cell in cells:
                other = region_by_cell.setdefault(cell, name)
                if other != name:
                    raise RegionFileError(
                        path, f"regions {other!r} and {name!r} overlap (both contain cell {cell})"
                    )
        return cls(resolution, region_by_cell)


@cache
def load_regions(path: Path) -> Regions:
    """The regions of `path`, read once per process: settings check the file at start-up,
    and the service then uses what was checked."""
    return Regions.load(path)


def shipped_regions() -> Regions:
    """The regions of the local mesh, the default of every service's regions setting."""
    return load_regions(SHIPPED_REGIONS_FILE)


def _region(entry: Any, index: int, resolution: int, path: Path | str) -> tuple[str, set[str]]:
    where = f"regions[{index}]"
    if not isinstance(entry, dict):
        raise RegionFileError(path, f"{where} must be an object with 'name' and a shape")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegionFileError(
            path, f"{where}.name {name!r} must be lowercase letters, digits and '-'"
        )
    has_polygon, has_cells = "polygon" in entry, "cells" in entry
    if has_polygon == has_cells:
        raise RegionFileError(path, f"region {name!r} needs exactly one of 'polygon' or 'cells'")
    if has_polygon:
        return name, _polygon_cells(entry["polygon"], resolution, f"region {name!r}", path)
    return name, _listed_cells(entry["cells"], resolution, f"region {name!r}", path)


def _polygon_cells(corners: Any, resolution: int, what: str, path: Path | str) -> set[str]:
    if not isinstance(corners, list) or len(corners) < 3:
        raise RegionFileError(path, f"{what}: 'polygon' must list at least 3 [lat, lng] corners")
    points: list[tuple[float, float]] = []
    for corner in corners:
        if (
            not isinstance(corner, list)
            or len(corner) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in corner)
            or not (-90 <= corner[0] <= 90 and -180 <= corner[1] <= 180)
        ):
            raise RegionFileError(path, f"{what}: corner {corner!r} is not a [lat, lng] pair")
        points.append((float(corner[0]), float(corner[1])))
    return set(h3.polygon_to_cells(h3.LatLngPoly(points), resolution))


def _listed_cells(cells: Any, resolution: int, what: str, path: Path | str) -> set[str]:
    if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
        raise RegionFileError(path, f"{what}: 'cells' must be a list of H3 cell ids")
    for cell in cells:
        if not h3.is_valid_cell(cell):
            raise RegionFileError(path, f"{what}: {cell!r} is not an H3 cell")
        if h3.get_resolution(cell) > resolution:
            raise RegionFileError(
                path, f"{what}: cell {cell} is finer than the file's resolution {resolution}"
            )
    try:
        return set(h3.uncompact_cells(cells, resolution))
    except h3.H3BaseException as error:  # e.g. a cell listed twice
        raise RegionFileError(path, f"{what}: 'cells' cannot be expanded ({error})") from None
