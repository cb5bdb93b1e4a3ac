"""G-06: a position fix counts as on site when the area's stored boundary covers it: its edges and corners count as
inside, a hole's inside does not (a hole's edge is the area's edge), any part of a MultiPolygon holds it."""

from __future__ import annotations

import math

import pytest

from permit_service.directory.geometry import as_geojson, covers, parse_boundary, position_point

# Stored as the admin's PATCH stores it: parsed, validated and written back as plain GeoJSON.
SQUARE_WITH_HOLE = as_geojson(
    parse_boundary(
        {
            "type": "Polygon",
            "coordinates": [
                [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
            ],
        }
    )
)
# A U (concave: a ray from the gap crosses the outline four times) and, apart from it, a triangle whose long edge
# runs on the diagonal x + y = 30.
U_AND_TRIANGLE = as_geojson(
    parse_boundary(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[0, 0], [9, 0], [9, 9], [6, 9], [6, 3], [3, 3], [3, 9], [0, 9], [0, 0]]],
                [[[20, 0], [30, 0], [20, 10], [20, 0]]],
            ],
        }
    )
)
# A plant outline in longitude/latitude with a vertex no float holds exactly (a point of a circle).
ANGLE = math.radians(30)
ROUND = as_geojson(
    parse_boundary(
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [119.5, 35.36],
                    [119.5 + 0.04 * math.cos(ANGLE), 35.36 + 0.04 * math.sin(ANGLE)],
                    [119.5, 35.40],
                    [119.5, 35.36],
                ]
            ],
        }
    )
)


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((2.0, 2.0), True),  # inside
        ((0.0, 0.0), True),  # a corner
        ((10.0, 10.0), True),
        ((0.0, 5.0), True),  # on an edge
        ((5.0, 10.0), True),
        ((10.0 + 1e-9, 5.0), False),  # just past an edge
        ((5.0, -1e-9), False),
        ((-3.0, 5.0), False),  # level with the outline, left of it
        ((5.0, 5.0), False),  # in the hole
        ((4.0, 5.0), True),  # the hole's edge is the area's edge
        ((6.0, 6.0), True),  # the hole's corner
        ((4.0 + 1e-9, 5.0), False),  # just inside the hole
    ],
)
def test_G_06_a_square_with_a_hole_covers_its_edges_and_corners_but_not_the_holes_inside(point, inside):
    assert covers(SQUARE_WITH_HOLE, point) is inside


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((1.0, 8.0), True),  # the U's left arm
        ((7.0, 8.0), True),  # its right arm
        ((4.5, 8.0), False),  # the gap between the arms
        ((4.5, 3.0), True),  # the gap's floor is the U's edge
        ((4.5, 2.0), True),  # below the gap
        ((6.0, 9.0), True),  # the gap's corner
        ((15.0, 1.0), False),  # between the two parts
        ((21.0, 1.0), True),  # in the triangle
        ((25.0, 5.0), True),  # on its diagonal edge
        ((25.0, 5.0 + 1e-9), False),  # just past the diagonal
        ((25.0, 5.0 - 1e-9), True),
        ((30.0, 0.0), True),  # the triangle's sharp corner
    ],
)
def test_G_06_a_multipolygon_holds_a_point_in_or_on_any_part(point, inside):
    assert covers(U_AND_TRIANGLE, point) is inside


def test_G_06_an_edge_through_a_vertex_no_float_holds_exactly_decides_by_side() -> None:
    (ax, ay), (bx, by) = ROUND["coordinates"][0][1], ROUND["coordinates"][0][2]
    middle = ((ax + bx) / 2, (ay + by) / 2)
    assert covers(ROUND, (119.501, 35.37))
    assert covers(ROUND, (middle[0] - 1e-7, middle[1]))  # a hair inside the slanted edge
    assert not covers(ROUND, (middle[0] + 1e-7, middle[1]))  # a hair outside it
    assert covers(ROUND, (ax, ay))  # the irrational corner itself


def test_G_06_a_position_fix_names_x_and_y_first_then_lon_and_lat() -> None:
    assert position_point({"x": 1, "y": 2, "lon": 3, "lat": 4}) == (1.0, 2.0)
    assert position_point({"lon": 3, "lat": 4}) == (3.0, 4.0)
    assert position_point({"x": 1, "lat": 4}) is None
