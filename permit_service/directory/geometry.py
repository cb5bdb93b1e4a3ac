"""Area boundaries: GeoJSON polygons in the coordinates the plant's positioning platform reports (G-06).

shapely parses and validates a boundary when it is set, and tests a position against the stored boundary when
someone signs on site. Coordinates are whatever plane the platform reports in (longitude and latitude, or a plant
grid in metres); a position is tested in the same plane, x/lon first as in GeoJSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Imported with the app, never late: gunicorn's master preloads it and the workers share its pages (with numpy's)
# copy-on-write (issue 14, <= 150 MB per worker; tests/unit/test_worker_imports.py).
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

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
    mapped = mapping(geometry)
    return {"type": mapped["type"], "coordinates": _lists(mapped["coordinates"])}


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, list | tuple) else float(value)


def position_point(position: Mapping[str, Any]) -> tuple[float, float] | None:
    """The position's point in the platform's plane: (x, y) when given, else (lon, lat); None if neither."""
    for first, second in (("x", "y"), ("lon", "lat")):
        if position.get(first) is not None and position.get(second) is not None:
            return (float(position[first]), float(position[second]))
    return None


def covers(boundary: Mapping[str, Any], point: tuple[float, float]) -> bool:
    """Whether the stored boundary holds the point: its edge counts as inside, a hole's inside does not."""
    return shape(boundary).covers(shapely.Point(point))
