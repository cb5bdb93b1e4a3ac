"""Area boundaries: GeoJSON polygons in the coordinates the plant's positioning platform reports (G-06).

A boundary is parsed and validated by shapely once, when it is set; a position is tested against the stored
boundary when someone signs on site, in plain Python with exact arithmetic. Coordinates are whatever plane the
platform reports in (longitude and latitude, or a plant grid in metres); a position is tested in the same plane,
x/lon first as in GeoJSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# shapely with numpy costs a worker some 14 MiB (issue 14: <= 150 MB per worker). Only setting a boundary (the
# enterprise admin, rarely) imports it; testing a position, which every on-site signature may do, does not.

Point = tuple[float, float]

BOUNDARY_TYPES = ("Polygon", "MultiPolygon")
MAX_VERTICES = 10_000  # a plant area outline, not a survey: bounds the work of every on-site test


class BoundaryError(ValueError):
    """The GeoJSON is not a usable area boundary; the message says why (zh / en)."""


def parse_boundary(value: Any) -> BaseGeometry:
    """A valid, non-empty Polygon or MultiPolygon from GeoJSON; BoundaryError naming the fault otherwise."""
    if not isinstance(value, Mapping) or value.get("type") not in BOUNDARY_TYPES:
        raise BoundaryError(
            "须为 GeoJSON Polygon 或 MultiPolygon / must be a GeoJSON Polygon or MultiPolygon"
        )
    if set(value) - {"type", "coordinates"}:
        raise BoundaryError("只能含 type 与 coordinates / only type and coordinates are allowed")
    import shapely
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    try:
        geometry = shape(value)
    except (TypeError, ValueError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise BoundaryError(f"坐标结构不正确 / malformed coordinates: {exc}") from None
    coordinates = shapely.get_coordinates(geometry)
    if len(coordinates) > MAX_VERTICES:
        raise BoundaryError(f"顶点超过{MAX_VERTICES}个 / more than {MAX_VERTICES} vertices")
    if not all(math.isfinite(c) for c in coordinates.ravel()):
        raise BoundaryError("坐标须为有限数 / coordinates must be finite numbers")
    if not geometry.is_valid:
        raise BoundaryError(f"几何无效 / invalid geometry: {explain_validity(geometry)}")
    if geometry.is_empty or geometry.area <= 0:
        raise BoundaryError("边界为空或面积为零 / the boundary is empty or has no area")
    return geometry


def as_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """The boundary as stored: plain GeoJSON with lists, ready for a JSON column."""
    import shapely.geometry

    mapped = shapely.geometry.mapping(geometry)
    return {"type": mapped["type"], "coordinates": _lists(mapped["coordinates"])}


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, list | tuple) else float(value)


def position_point(position: Mapping[str, Any]) -> Point | None:
    """The position's point in the platform's plane: (x, y) when given, else (lon, lat); None if neither."""
    for first, second in (("x", "y"), ("lon", "lat")):
        if position.get(first) is not None and position.get(second) is not None:
            return (float(position[first]), float(position[second]))
    return None


def covers(boundary: Mapping[str, Any], point: Point) -> bool:
    """Whether the stored boundary holds the point (its edge counts as inside), as shapely's `covers` decides."""
    polygons = [boundary["coordinates"]] if boundary["type"] == "Polygon" else boundary["coordinates"]
    for exterior, *holes in polygons:
        side = _side(exterior, point)
        if side == 0:
            return True
        if side > 0 and all(_side(hole, point) <= 0 for hole in holes):
            return True
    return False


def _side(ring: Sequence[Sequence[float]], point: Point) -> int:
    """1 inside the ring, 0 on it, -1 outside: crossings of the ray from the point towards +x (as GEOS counts)."""
    px, py = point
    crossings = 0
    for (ax, ay), (bx, by) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if ax < px and bx < px:
            continue
        if (px, py) == (bx, by):
            return 0
        if ay == py == by:  # a horizontal edge on the ray's line: on it or not, it is no crossing
            if min(ax, bx) <= px <= max(ax, bx):
                return 0
            continue
        if (ay > py) != (by > py):
            turn = _orientation(ax, ay, bx, by, px, py)
            if turn == 0:
                return 0
            if (turn > 0) == (by > ay):
                crossings += 1
    return 1 if crossings % 2 else -1


# Shewchuk's error bound for the orientation determinant in doubles: a float result larger than this share of
# its terms has the exact sign; anything closer to zero is decided again exactly.
_ORIENTATION_BOUND = (3 + 16 * 2**-53) * 2**-53


def _orientation(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> int:
    """1 when the point lies left of a->b, -1 right of it, 0 on its line: exact for any finite doubles."""
    left, right = (ax - px) * (by - py), (ay - py) * (bx - px)
    det = left - right
    if math.isfinite(det) and abs(det) > _ORIENTATION_BOUND * (abs(left) + abs(right)):
        return 1 if det > 0 else -1
    fx, fy = Fraction(px), Fraction(py)
    exact = (Fraction(ax) - fx) * (Fraction(by) - fy) - (Fraction(ay) - fy) * (Fraction(bx) - fx)
    return (exact > 0) - (exact < 0)
