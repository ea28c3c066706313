"""A uniform latitude/longitude grid of points, for finding the nearest courier.

Why a grid and not an R-tree: the index is written far more often than it is read.
Every moving courier reports a position a few times a second (the goal is at least
10,000 updates a second on 2 cores), while searches happen once per offer. Moving a
point in a grid is O(1): compute its cell, and only if the cell changed, move its id
between two sets. An R-tree pays a delete and a re-insert with node splits for the
same move. A search walks rings of cells outward from the query point, checks each
candidate's great-circle distance, and stops once no unvisited ring can hold anything
closer than the best found, or the rings pass the search radius.

Cells are `cell_degrees` on each side (0.01° is about 1.1 km north-south and 0.7 km
east-west at 50°N), so a city-sized search looks at a few hundred cells at most.
Points are not wrapped across the antimeridian: no service area straddles it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from services.shared_kernel.geo import EARTH_RADIUS_METERS

METERS_PER_DEGREE = math.pi * EARTH_RADIUS_METERS / 180
DEFAULT_CELL_DEGREES = 0.01

Cell = tuple[int, int]


def great_circle_meters(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Haversine distance, on plain floats: the search runs it per candidate."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_METERS * math.asin(min(1.0, math.sqrt(a)))


class PointGrid:
    """Ids placed at points, bucketed by cell: O(1) place, move and remove."""

    def __init__(self, cell_degrees: float = DEFAULT_CELL_DEGREES) -> None:
        self._degrees = cell_degrees
        self._cells: dict[Cell, set[str]] = {}
        self._where: dict[str, Cell] = {}
        self._points: dict[str, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, item: str) -> bool:
        return item in self._points

    def _cell(self, latitude: float, longitude: float) -> Cell:
        return (math.floor(latitude / self._degrees), math.floor(longitude / self._degrees))

    def place(self, item: str, latitude: float, longitude: float) -> None:
        """Put `item` at the point, wherever it was before."""
        cell = self._cell(latitude, longitude)
        self._points[item] = (latitude, longitude)
        before = self._where.get(item)
        if before == cell:
            return
        if before is not None:
            self._leave(item, before)
        self._where[item] = cell
        self._cells.setdefault(cell, set()).add(item)

    def remove(self, item: str) -> None:
        cell = self._where.pop(item, None)
        self._points.pop(item, None)
        if cell is not None:
            self._leave(item, cell)

    def _leave(self, item: str, cell: Cell) -> None:
        members = self._cells[cell]
        members.discard(item)
        if not members:
            del self._cells[cell]

    def nearest(
        self,
        latitude: float,
        longitude: float,
        max_meters: float,
        accept: Callable[[str], bool],
    ) -> tuple[str, float] | None:
        """The accepted id closest to the point within `max_meters`, and its distance."""
        if not self._points:
            return None
        # Any point k rings away is at least (k - 1) whole cells away, in metres at the
        # narrowest latitude within reach (slightly shrunk: great circles cut corners).
        reach = min(89.0, abs(latitude) + max_meters / METERS_PER_DEGREE)
        width = self._degrees * METERS_PER_DEGREE * math.cos(math.radians(reach))
        step = 0.99 * min(self._degrees * METERS_PER_DEGREE, width)
        centre = self._cell(latitude, longitude)
        best: tuple[str, float] | None = None
        limit = max_meters
        for ring in range(int(max_meters / step) + 2):
            if (ring - 1) * step > limit:
                break
            for cell in _ring(centre, ring):
                for item in self._cells.get(cell, ()):
                    lat, lng = self._points[item]
                    distance = great_circle_meters(latitude, longitude, lat, lng)
                    if distance <= limit and (best is None or distance < best[1]) and accept(item):
                        best, limit = (item, distance), distance
        return best


def _ring(centre: Cell, radius: int) -> Iterator[Cell]:
    """The cells at exactly `radius` (Chebyshev distance) from `centre`."""
    row, column = centre
    if radius == 0:
        yield centre
        return
    for dc in range(-radius, radius + 1):
        yield (row - radius, column + dc)
        yield (row + radius, column + dc)
    for dr in range(-radius + 1, radius):
        yield (row + dr, column - radius)
        yield (row + dr, column + radius)
