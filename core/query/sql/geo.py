"""Geo queries in core PostgreSQL: no PostGIS, only SQL math and the built-in geometric types.

A GeoPoint is stored as `{"__type": "GeoPoint", "latitude": .., "longitude": ..}` and a Polygon
as `{"__type": "Polygon", "coordinates": [[lat, lng], ...]}`. Distances are great-circle
distances in radians by the haversine formula. Polygons are PostgreSQL `polygon` values with
points (latitude, longitude), tested with `@>` (a point on the boundary is inside, as in Parse).
"""

from __future__ import annotations

import math

from parsnip.core.query.ast import Intersects, Near, Node, WithinBox, WithinPolygon, WithinSphere, near_of
from parsnip.core.query.sql.base import Params, Path


def _point(expr: str) -> tuple[str, str, str]:
    """(guard, latitude, longitude): the guard is true only for a well-formed GeoPoint, and the
    CASE around each use keeps the casts from ever seeing anything else."""
    guard = (f"({expr} ->> '__type' = 'GeoPoint' AND jsonb_typeof({expr} -> 'latitude') = 'number'"
             f" AND jsonb_typeof({expr} -> 'longitude') = 'number')")
    return guard, f"({expr} ->> 'latitude')::float8", f"({expr} ->> 'longitude')::float8"


def _haversine(lat1: str, lng1: str, lat2: str, lng2: str) -> str:
    """Great-circle distance in radians between two points given in degrees."""
    return (
        f"(2 * asin(LEAST(1.0, sqrt(power(sin(radians({lat2} - {lat1}) / 2), 2)"
        f" + cos(radians({lat1})) * cos(radians({lat2})) * power(sin(radians({lng2} - {lng1}) / 2), 2)))))"
    )


def point_expression(field: str) -> str:
    """The GeoPoint of a top-level field as a PostgreSQL `point` (x = longitude, y = latitude).

    The same text is the expression of the GiST index the projector creates for every GeoPoint
    field, so a bounding-box test on it is served by that index. `field` must be validated.
    """
    return (f"point((data->'{field}'->>'longitude')::float8,"
            f" (data->'{field}'->>'latitude')::float8)")


def _bounding_box(lat: float, lng: float, radians: float) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) in degrees around a circle, or None where it wraps a pole or
    the antimeridian (the query then runs without the index)."""
    if radians >= math.pi / 2:
        return None
    dlat = math.degrees(radians)
    south, north = lat - dlat, lat + dlat
    cos_lat = math.cos(math.radians(lat))
    if south < -90 or north > 90 or cos_lat <= 0 or math.sin(radians) >= cos_lat:
        return None
    dlng = math.degrees(math.asin(math.sin(radians) / cos_lat))
    west, east = lng - dlng, lng + dlng
    if west < -180 or east > 180:
        return None
    return west, south, east, north


def _within_distance(field: str, lat: float, lng: float, radians: float | None, params: Params) -> str:
    guard, plat, plng = _point(Path(field).json(params))
    if radians is None:
        return f"COALESCE({guard}, FALSE)"
    centre_lat, centre_lng = params.add(lat, "::float8"), params.add(lng, "::float8")
    distance = _haversine(plat, plng, centre_lat, centre_lng)
    exact = f"(CASE WHEN {guard} THEN {distance} <= {params.add(radians, '::float8')} ELSE FALSE END)"
    box = _bounding_box(lat, lng, radians) if "." not in field else None
    if box is None:
        return exact
    w, s, e, n = (params.add(x, "::float8") for x in box)
    # A superset test the GiST index answers, then the exact great-circle distance.
    return f"({point_expression(field)} <@ box(point({w}, {s}), point({e}, {n})) AND {exact})"


def near(node: Near, params: Params) -> str:
    """$nearSphere: a GeoPoint, within the maximum distance when one is given."""
    return _within_distance(node.field, node.latitude, node.longitude, node.max_distance, params)


def within_sphere(node: WithinSphere, params: Params) -> str:
    """$geoWithin $centerSphere: within `radius` radians of the centre."""
    return _within_distance(node.field, node.latitude, node.longitude, node.radius, params)


def within_box(node: WithinBox, params: Params) -> str:
    """$within $box: latitude and longitude each between the corners' (edges included)."""
    guard, lat, lng = _point(Path(node.field).json(params))
    (south, west), (north, east) = node.south_west, node.north_east
    p = [params.add(x, "::float8") for x in (south, north, west, east)]
    return (f"(CASE WHEN {guard} THEN {lat} BETWEEN SYMMETRIC {p[0]} AND {p[1]}"
            f" AND {lng} BETWEEN SYMMETRIC {p[2]} AND {p[3]} ELSE FALSE END)")


def _polygon_text(points) -> str:
    # Built from floats the AST produced, and passed as a parameter all the same.
    return "(" + ",".join(f"({float(a)!r},{float(b)!r})" for a, b in points) + ")"


def within_polygon(node: WithinPolygon, params: Params) -> str:
    """$geoWithin $polygon: the point is inside the polygon or on its boundary."""
    guard, lat, lng = _point(Path(node.field).json(params))
    poly = params.add(_polygon_text(node.points), "::text") + "::polygon"
    return f"(CASE WHEN {guard} THEN {poly} @> point({lat}, {lng}) ELSE FALSE END)"


def intersects(node: Intersects, params: Params) -> str:
    """$geoIntersects $point: a stored Polygon contains the point (boundary included)."""
    expr = Path(node.field).json(params)
    stored = (
        "(SELECT ('(' || string_agg('(' || (c ->> 0) || ',' || (c ->> 1) || ')', ',' ORDER BY n) || ')')::polygon"
        f" FROM jsonb_array_elements({expr} -> 'coordinates') WITH ORDINALITY AS pts(c, n))"
    )
    guard = f"({expr} ->> '__type' = 'Polygon' AND jsonb_typeof({expr} -> 'coordinates') = 'array')"
    point = f"point({params.add(node.latitude, '::float8')}, {params.add(node.longitude, '::float8')})"
    return f"COALESCE(CASE WHEN {guard} THEN {stored} @> {point} END, FALSE)"


def compile_near_order(where: Node, params: Params) -> str | None:
    """An ORDER BY item, nearest first, when the query has a $nearSphere; else None.

    Objects without a GeoPoint in the field sort last (their distance is NULL).
    """
    node = near_of(where)
    if node is None:
        return None
    guard, lat, lng = _point(Path(node.field).json(params))
    centre_lat, centre_lng = params.add(node.latitude, "::float8"), params.add(node.longitude, "::float8")
    return f"(CASE WHEN {guard} THEN {_haversine(lat, lng, centre_lat, centre_lng)} END) ASC"
