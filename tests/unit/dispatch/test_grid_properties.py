"""The grid against a brute-force scan over generated places, moves, removals, query
points, radii, cell sizes and filters: it finds a point exactly as near as the nearest
accepted one within the radius, and nothing when there is none."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.dispatch.domain.grid import PointGrid, great_circle_meters
from tests.unit.dispatch.test_grid import brute_force

# Cities up to 70°, where cells are narrowest east-west; no area straddles the antimeridian.
centres = st.tuples(st.floats(-70, 70), st.floats(-170, 170))
offsets = st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3))
items = st.sampled_from([f"c{n}" for n in range(40)])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("place"), items, offsets),
        st.tuples(st.just("remove"), items, st.just((0.0, 0.0))),
    ),
    max_size=120,
)


@given(
    centres,
    operations,
    offsets,
    st.floats(50, 30_000),
    st.sampled_from([0.002, 0.01, 0.05]),
    st.frozensets(items, max_size=10),
)
def test_the_grid_finds_what_a_brute_force_scan_finds(
    centre: tuple[float, float],
    steps: list[tuple[str, str, tuple[float, float]]],
    query: tuple[float, float],
    max_meters: float,
    cell_degrees: float,
    rejected: frozenset[str],
) -> None:
    grid, points = PointGrid(cell_degrees), {}
    for action, item, (d_lat, d_lng) in steps:
        if action == "place":
            points[item] = (centre[0] + d_lat, centre[1] + d_lng)
            grid.place(item, *points[item])
        else:
            points.pop(item, None)
            grid.remove(item)
    at = (centre[0] + query[0], centre[1] + query[1])
    accepted = {item: point for item, point in points.items() if item not in rejected}

    found = grid.nearest(*at, max_meters, lambda item: item not in rejected)
    expected = brute_force(accepted, at, max_meters)

    assert len(grid) == len(points)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        item, distance = found
        assert item in accepted
        assert distance == great_circle_meters(*at, *accepted[item])
        assert distance == expected[1]  # ties may pick either of equally near points
