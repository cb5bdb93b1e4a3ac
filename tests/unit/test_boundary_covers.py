"""G-06: a position fix is tested against the area's stored boundary in plain Python, and decides exactly as
shapely's `covers` (its edge counts as inside, a hole's inside does not); shapely itself is left to setting a
boundary (tests/unit/test_worker_imports.py)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape

from permit_service.directory.geometry import as_geojson, covers, parse_boundary, position_point


def _star(cx: float, cy: float, radii: list[float], turn: float) -> list[tuple[float, float]]:
    # A simple (star-shaped) ring with irrational vertices: edges whose points floats cannot hold exactly.
    n = len(radii)
    return [
        (cx + r * math.cos(turn + 2 * math.pi * i / n), cy + r * math.sin(turn + 2 * math.pi * i / n))
        for i, r in enumerate(radii)
    ]


grid = st.integers(-3, 13)
stars = st.builds(
    _star,
    cx=st.just(5.0),
    cy=st.just(5.0),
    radii=st.lists(st.floats(4, 7), min_size=3, max_size=9),
    turn=st.floats(0, 1),
)
boxes = st.tuples(grid, grid, st.integers(1, 10), st.integers(1, 10)).map(
    lambda b: [(b[0], b[1]), (b[0] + b[2], b[1]), (b[0] + b[2], b[1] + b[3]), (b[0], b[1] + b[3])]
)
holes = st.lists(st.tuples(st.integers(3, 6), st.integers(3, 6), st.integers(1, 3)), max_size=1).map(
    lambda hs: [[(x, y), (x + s, y), (x + s, y + s), (x, y + s)] for x, y, s in hs]
)


@st.composite
def boundaries(draw: st.DrawFn) -> Polygon | MultiPolygon:
    parts = [Polygon(draw(stars | boxes), draw(holes)) for _ in range(draw(st.integers(1, 2)))]
    geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    return geometry if geometry.is_valid else Polygon(_star(5, 5, [5, 6, 5, 6], 0.3))


@st.composite
def points(draw: st.DrawFn, geometry: Polygon | MultiPolygon) -> tuple[float, float]:
    """A vertex, a point on (or a rounding off) an edge, a grid point or any point near the boundary."""
    rings = [
        ring.coords
        for polygon in getattr(geometry, "geoms", [geometry])
        for ring in (polygon.exterior, *polygon.interiors)
    ]
    ring = draw(st.sampled_from(rings))
    i = draw(st.integers(0, len(ring) - 2))
    (ax, ay), (bx, by) = ring[i], ring[i + 1]
    t = draw(st.floats(0, 1))
    return draw(
        st.sampled_from([(ax, ay), (ax + t * (bx - ax), ay + t * (by - ay))])
        | st.tuples(grid.map(float), grid.map(float))
        | st.tuples(st.floats(-4, 14), st.floats(-4, 14))
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_G_06_a_position_is_inside_exactly_when_shapely_says_the_boundary_covers_it(
    data: st.DataObject,
) -> None:
    geometry = data.draw(boundaries())
    stored = as_geojson(parse_boundary(mapping(geometry)))
    for _ in range(10):
        x, y = data.draw(points(geometry))
        assert covers(stored, (x, y)) == shape(stored).covers(Point(x, y)), (stored, x, y)


def test_G_06_the_edge_and_corners_count_as_inside_a_hole_does_not() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [
            [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]],
            [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]],
        ],
    }
    assert covers(square, (10.0, 10.0)) and covers(square, (0.0, 5.0)) and covers(square, (2.0, 2.0))
    assert covers(square, (4.0, 5.0))  # the hole's edge is the area's edge
    assert not covers(square, (5.0, 5.0)) and not covers(square, (10.0 + 1e-9, 5.0))


def test_G_06_a_position_fix_names_x_and_y_first_then_lon_and_lat() -> None:
    assert position_point({"x": 1, "y": 2, "lon": 3, "lat": 4}) == (1.0, 2.0)
    assert position_point({"lon": 3, "lat": 4}) == (3.0, 4.0)
    assert position_point({"x": 1, "lat": 4}) is None
