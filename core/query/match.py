"""The in-memory evaluator of the query AST: does one Parse object match a `where`?

LiveQuery decides for each changed object whether a subscription's query holds, without a
round trip to PostgreSQL, so this module must answer exactly as the SQL evaluator
(`core/query/sql/`) does for the same stored object; `tests/core/test_query_agreement.py`
holds the two to the same answers on shared vectors and on random objects and queries.

The object is in Parse's REST encoding, as a read returns it: `objectId`, `createdAt` and
`updatedAt` (ISO strings), `ACL`, and every other field (Dates as `{"__type": "Date", ...}`).

Semantics are Parse Server's (MongoDB-style, as Parse Server on PostgreSQL applies them):

- equality on an array means "contains"; null equality also matches a missing key;
  `$ne`/`$nin` match a missing key;
- `$lt`... compare only values of one type: numbers with numbers, strings with strings (by
  code point, as PostgreSQL's "C" collation), Dates by instant; other same-typed values in
  PostgreSQL's jsonb order;
- typed values are equal by identity: a Pointer by class and objectId, a GeoPoint by its
  coordinates, a File by name, Bytes by their base64;
- dotted keys reach into Object fields (and index arrays with a numeric segment, as
  PostgreSQL's `#>` does); the special keys (objectId, createdAt, updatedAt, ACL) have no
  sub-keys;
- regular expressions follow PCRE's defaults: `.` skips newlines unless `s`, `^`/`$` anchor
  at line ends only with `m` (and `$` without `m` at the very end only, as PostgreSQL); they
  run in linear time or under a time limit (`core/query/match_regex.py`, RegexTimeout);
- polygons contain points by PostgreSQL's own algorithm (`point_inside`, with its 1e-6
  tolerance), the one both Parse Server on PostgreSQL and our SQL evaluator use, so the
  boundary counts as inside; distances are great-circle distances in radians on a sphere.

Nodes that need other rows ($inQuery, $select, $relatedTo, $text: `ast.NEEDS_DATABASE`) raise
`CannotDecide`: a matcher that answered False would silently drop LiveQuery events.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import (
    NEEDS_DATABASE, All, And, Compare, ContainedBy, Exists, In, Intersects, Near, Node, Nor, Or, Regex,
    WithinBox, WithinPolygon, WithinSphere,
)
from parsnip.core.query.match_regex import Compiled, RegexTimeout, compile_regex
from parsnip.core.values import parse_iso

__all__ = ["CannotDecide", "RegexTimeout", "decidable", "matches", "prepare"]

_MISSING = object()
_DATE_KEYS = frozenset({"createdAt", "updatedAt"})
_SPECIAL_KEYS = frozenset({"objectId", "createdAt", "updatedAt", "ACL"})


class CannotDecide(Exception):
    """The query needs the database (another class, a relation, full-text search)."""

    def __init__(self, node: Node) -> None:
        super().__init__(f"{type(node).__name__} cannot be decided in memory")
        self.node = node


def decidable(node: Node) -> bool:
    """Whether `matches` can answer for `node` (no subquery, relation or $text at any depth)."""
    if isinstance(node, NEEDS_DATABASE):
        return False
    if isinstance(node, (And, Or, Nor)):
        return all(decidable(n) for n in node.items)
    return True


def prepare(node: Node) -> list[Compiled]:
    """Compile what matching `node` needs (its regular expressions), raising ParseError(102)
    for a pattern that cannot be compiled; they stay compiled while the result is held."""
    found: list[Compiled] = []
    pending = [node]
    while pending:
        n = pending.pop()
        if isinstance(n, (And, Or, Nor)):
            pending.extend(n.items)
        elif isinstance(n, Regex):
            found.append(compile_regex(n.pattern, n.options))
    return found


def matches(node: Node, obj: dict) -> bool:
    """Whether the Parse object `obj` (REST encoding) satisfies `node`.

    Raises CannotDecide for the nodes in `ast.NEEDS_DATABASE`, ParseError where the SQL
    evaluator refuses the query too (an unreadable date on createdAt/updatedAt), and
    RegexTimeout when a pattern that needs backtracking runs out of time.
    """
    evaluate = _DISPATCH.get(type(node))
    if evaluate is None:
        if isinstance(node, NEEDS_DATABASE):
            raise CannotDecide(node)
        raise TypeError(f"not a query node: {node!r}")
    return evaluate(node, obj)


# -- reading a key -------------------------------------------------------------------------

def _lookup(obj: dict, key: str) -> Any:
    """The value at `key` (dotted paths into Objects), or _MISSING.

    createdAt/updatedAt come back as Dates, so they compare as Dates. A dotted key reads the
    data fields only, as the SQL side's `data #> path`: `ACL.x` or `createdAt.iso` is missing.
    A numeric segment indexes an array, as `#>` does.
    """
    if "." not in key:
        value = obj.get(key, _MISSING)
        if key in _DATE_KEYS and isinstance(value, str):
            return {"__type": "Date", "iso": value}
        return value
    first, *rest = key.split(".")
    if first in _SPECIAL_KEYS:
        return _MISSING
    value = obj.get(first, _MISSING)
    for part in rest:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and _index(part) is not None:
            i = _index(part)
            value = value[i] if -len(value) <= i < len(value) else _MISSING
        else:
            return _MISSING
    return value


def _index(part: str) -> int | None:
    """An array index as PostgreSQL's `#>` reads a path segment (negative counts from the end)."""
    try:
        return int(part)
    except ValueError:
        return None


# -- values --------------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _typed(v: Any, kind: str) -> bool:
    return isinstance(v, dict) and v.get("__type") == kind


def _instant(v: Any):
    """The instant of a stored Date, or None when `v` is not a well-formed Date."""
    if not (_typed(v, "Date") and isinstance(v.get("iso"), str)):
        return None
    try:
        return parse_iso(v["iso"])
    except ParseError:
        return None


def _json_equal(a: Any, b: Any) -> bool:
    """jsonb equality: numbers by value, never a boolean equal to a number, objects unordered."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_json_equal, a, b))
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_json_equal(a[k], b[k]) for k in a))
    return type(a) is type(b) and a == b


def _contains(stored: Any, query: Any) -> bool:
    """jsonb containment `stored @> query` for objects: every key of `query` present and equal
    (recursively contained). The SQL side tests typed values this way, so a stored Pointer with
    extra keys still equals the query's."""
    if isinstance(query, dict):
        return isinstance(stored, dict) and all(
            k in stored and _contains(stored[k], v) for k, v in query.items())
    if isinstance(query, list):
        return isinstance(stored, list) and all(any(_contains(s, q) for s in stored) for q in query)
    return _json_equal(stored, query)


def _identity(query: dict) -> dict:
    """The part of a typed query value that identifies it: a File by its name alone (its URL is
    made on read), a Pointer by class and id, a GeoPoint by coordinates, Bytes by base64."""
    if query.get("__type") == "File":
        return {"__type": "File", "name": query.get("name")}
    return query


_IDENTITY_TYPES = frozenset({"Pointer", "GeoPoint", "Bytes", "File"})


def _value_equals(stored: Any, query: Any) -> bool:
    """One stored value equals one query value, Parse's way (no array "contains" here)."""
    if query is None:
        return stored is None
    if _typed(query, "Date"):
        return _instant(stored) is not None and _instant(stored) == parse_iso(query.get("iso"))
    if isinstance(query, dict) and query.get("__type") in _IDENTITY_TYPES:
        return _contains(stored, _identity(query))
    return _json_equal(stored, query)


def _equals(stored: Any, query: Any) -> bool:
    """Parse equality: the value itself, or an array holding it; null also matches missing."""
    if stored is _MISSING:
        return query is None
    if _value_equals(stored, query):
        return True
    return isinstance(stored, list) and any(_value_equals(e, query) for e in stored)


# -- jsonb order ---------------------------------------------------------------------------

# PostgreSQL's jsonb type order (jbvNull < jbvString < jbvNumeric < jbvBool < array < object).
_RANK = {type(None): 0, str: 1, int: 2, float: 2, bool: 3, list: 4, dict: 5}


def _jsonb_cmp(a: Any, b: Any) -> int:
    """PostgreSQL's jsonb ordering (compareJsonbContainers), for $lt and friends on values that
    are neither numbers, strings nor Dates: arrays and objects by size first, objects' keys in
    jsonb storage order (shorter first, then bytewise), strings by code point."""
    ra, rb = _RANK[type(a)], _RANK[type(b)]
    if ra != rb:
        return -1 if ra < rb else 1
    if isinstance(a, list):
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        for x, y in zip(a, b):
            c = _jsonb_cmp(x, y)
            if c:
                return c
        return 0
    if isinstance(a, dict):
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        ka, kb = sorted(a, key=_key_order), sorted(b, key=_key_order)
        for x, y in zip(ka, kb):
            c = _jsonb_cmp(x, y)
            if c:
                return c
            c = _jsonb_cmp(a[x], b[y])
            if c:
                return c
        return 0
    if a is None:
        return 0
    return (a > b) - (a < b)


def _key_order(key: str) -> tuple[int, bytes]:
    data = key.encode("utf-8")
    return len(data), data


_ORDER = {"lt": lambda c: c < 0, "lte": lambda c: c <= 0, "gt": lambda c: c > 0, "gte": lambda c: c >= 0}


def _ordered(stored: Any, op: str, query: Any) -> bool:
    """`stored op query` when both are of one type; values of different types never compare."""
    if _typed(query, "Date"):
        a, b = _instant(stored), parse_iso(query.get("iso"))
        return a is not None and _ORDER[op]((a > b) - (a < b))
    if stored is _MISSING or stored is None:
        return False
    if _is_number(query):
        return _is_number(stored) and _ORDER[op]((stored > query) - (stored < query))
    if isinstance(query, str):
        return isinstance(stored, str) and _ORDER[op]((stored > query) - (stored < query))
    # Anything else (booleans, arrays, objects, other typed values) compares in jsonb order,
    # and only against a value of the same JSON type.
    if _RANK.get(type(stored)) != _RANK.get(type(query)):
        return False
    return _ORDER[op](_jsonb_cmp(stored, query))


# -- special keys --------------------------------------------------------------------------

def _as_instant(query: Any):
    """createdAt/updatedAt take a Date or an ISO string (an unreadable one is a 111 error, as
    in SQL); any other value matches nothing."""
    if _typed(query, "Date"):
        return parse_iso(query.get("iso"))
    if isinstance(query, str):
        return parse_iso(query)
    return None


def _date_key_compare(stored: Any, op: str, query: Any) -> bool:
    at, want = _instant(stored), _as_instant(query)
    if at is None or want is None:
        return False
    if op == "eq":
        return at == want
    return _ORDER[op]((at > want) - (at < want))


def _object_id_compare(stored: Any, op: str, query: Any) -> bool:
    if not isinstance(query, str) or not isinstance(stored, str):
        return False
    if op == "eq":
        return stored == query
    return _ORDER[op]((stored > query) - (stored < query))


# -- operators -----------------------------------------------------------------------------

def _compare(node: Compare, obj: dict) -> bool:
    """eq / ne / lt / lte / gt / gte; $ne is the exact negation of equality (matches missing)."""
    if node.op == "ne":
        return not _compare(Compare(node.field, "eq", node.value), obj)
    stored = _lookup(obj, node.field)
    if node.field in _DATE_KEYS:
        return _date_key_compare(stored, node.op, node.value)
    if node.field == "objectId":
        return _object_id_compare(stored, node.op, node.value)
    if node.op == "eq":
        return _equals(stored, node.value)
    return _ordered(stored, node.op, node.value)


def _in(node: In, obj: dict) -> bool:
    """$in: equal to one of the values (so an array field sharing an element matches; null
    matches missing); $nin: to none of them, so a missing key matches $nin."""
    found = any(_compare(Compare(node.field, "eq", v), obj) for v in node.values)
    return not found if node.negate else found


def _all(node: All, obj: dict) -> bool:
    """$all: an array holding every value; an empty list matches nothing (as Parse)."""
    stored = _lookup(obj, node.field)
    if not node.values or node.field in _SPECIAL_KEYS or not isinstance(stored, list):
        return False
    return all(any(_value_equals(e, v) for e in stored) for v in node.values)


def _contained_by(node: ContainedBy, obj: dict) -> bool:
    """$containedBy: an array whose every element is one of the values (so [] matches)."""
    stored = _lookup(obj, node.field)
    if node.field in _SPECIAL_KEYS or not isinstance(stored, list):
        return False
    return all(any(_value_equals(e, v) for v in node.values) for e in stored)


def _exists(node: Exists, obj: dict) -> bool:
    """$exists: set to something other than null (Parse on PostgreSQL: `IS NOT NULL`)."""
    if node.field in ("objectId", "createdAt", "updatedAt"):
        present = True
    else:
        value = _lookup(obj, node.field)
        present = value is not _MISSING and value is not None
    return present == node.exists


def _regex(node: Regex, obj: dict) -> bool:
    """A String (or some String element of an array, as MongoDB) matching the pattern
    anywhere; on the special keys only objectId is a string."""
    if node.field in ("createdAt", "updatedAt", "ACL"):
        return False
    stored = _lookup(obj, node.field)
    if isinstance(stored, str):
        return compile_regex(node.pattern, node.options).search(stored)
    if isinstance(stored, list):
        rx = compile_regex(node.pattern, node.options)
        return any(isinstance(e, str) and rx.search(e) for e in stored)
    return False


# -- geo -----------------------------------------------------------------------------------

def _geopoint(obj: dict, field: str) -> tuple[float, float] | None:
    """(latitude, longitude) of a well-formed stored GeoPoint, else None."""
    v = _lookup(obj, field)
    if _typed(v, "GeoPoint") and _is_number(v.get("latitude")) and _is_number(v.get("longitude")):
        return float(v["latitude"]), float(v["longitude"])
    return None


def haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in radians, written term for term as the SQL evaluator's, so both
    round alike at the edge of a maximum distance."""
    a = (math.pow(math.sin(math.radians(lat2 - lat1) / 2), 2)
         + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2))
         * math.pow(math.sin(math.radians(lng2 - lng1) / 2), 2))
    return 2 * math.asin(min(1.0, math.sqrt(a)))


def _within_distance(obj: dict, field: str, lat: float, lng: float, radians: float | None) -> bool:
    point = _geopoint(obj, field)
    if point is None:
        return False
    return radians is None or haversine(point[0], point[1], lat, lng) <= radians


def _near(node: Near, obj: dict) -> bool:
    """$nearSphere: a GeoPoint, within the maximum distance when one is given."""
    return _within_distance(obj, node.field, node.latitude, node.longitude, node.max_distance)


def _within_sphere(node: WithinSphere, obj: dict) -> bool:
    """$geoWithin $centerSphere: within `radius` radians of the centre."""
    return _within_distance(obj, node.field, node.latitude, node.longitude, node.radius)


def _within_box(node: WithinBox, obj: dict) -> bool:
    """$within $box: latitude and longitude each between the corners' (edges included)."""
    point = _geopoint(obj, node.field)
    if point is None:
        return False
    (south, west), (north, east) = node.south_west, node.north_east
    lat, lng = point
    return min(south, north) <= lat <= max(south, north) and min(west, east) <= lng <= max(west, east)


def _within_polygon(node: WithinPolygon, obj: dict) -> bool:
    """$geoWithin $polygon: the point inside the polygon or on its boundary."""
    point = _geopoint(obj, node.field)
    return point is not None and point_in_polygon(point, node.points)


def _intersects(node: Intersects, obj: dict) -> bool:
    """$geoIntersects $point: a stored Polygon contains the point (boundary included)."""
    v = _lookup(obj, node.field)
    if not (_typed(v, "Polygon") and isinstance(v.get("coordinates"), list)):
        return False
    coords = v["coordinates"]
    if not coords or not all(isinstance(c, list) and len(c) == 2 and all(map(_is_number, c)) for c in coords):
        return False
    return point_in_polygon((node.latitude, node.longitude), [(float(a), float(b)) for a, b in coords])


# PostgreSQL's geometric comparisons are fuzzy by this much (src/include/utils/geo_decls.h).
_EPSILON = 1.0e-06


def point_in_polygon(point: tuple[float, float], polygon) -> bool:
    """PostgreSQL's `polygon @> point` (point_inside in geo_ops.c), ported step for step:
    a winding count of the crossings of the positive x axis, the boundary counting as inside.
    Points are (latitude, longitude) pairs on both sides, as the SQL evaluator builds them."""
    px, py = point
    pts = list(polygon)
    if not pts:
        return False
    x0, y0 = pts[0][0] - px, pts[0][1] - py
    prev_x, prev_y = x0, y0
    total = 0
    for qx, qy in pts[1:]:
        x, y = qx - px, qy - py
        cross = _lseg_crossing(x, y, prev_x, prev_y)
        if cross is None:
            return True
        total += cross
        prev_x, prev_y = x, y
    cross = _lseg_crossing(x0, y0, prev_x, prev_y)
    if cross is None:
        return True
    return total + cross != 0


def _zero(a: float) -> bool:
    return abs(a) <= _EPSILON


def _gt(a: float, b: float) -> bool:
    return a - b > _EPSILON


def _lt(a: float, b: float) -> bool:
    return b - a > _EPSILON


def _lseg_crossing(x: float, y: float, prev_x: float, prev_y: float) -> int | None:
    """How the segment (prev -> this), relative to the tested point, crosses the positive x
    axis: +-2 for a crossing, +-1 for a touch, 0 for none, None when the point is on it."""
    if _zero(y):
        if _zero(x):
            return None
        if _gt(x, 0):
            if _zero(prev_y):
                return 0 if _gt(prev_x, 0.0) else None
            return 1 if _lt(prev_y, 0.0) else -1
        if _zero(prev_y):
            return 0 if _lt(prev_x, 0.0) else None
        return 0
    y_sign = 1 if _gt(y, 0.0) else -1
    if _zero(prev_y):
        return 0 if _lt(prev_x, 0.0) else y_sign
    if (y_sign < 0 and _lt(prev_y, 0.0)) or (y_sign > 0 and _gt(prev_y, 0.0)):
        return 0
    if (x - 0.0 >= -_EPSILON) and _gt(prev_x, 0.0):  # FPge(x, 0) and FPgt(prev_x, 0)
        return 2 * y_sign
    if _lt(x, 0.0) and (prev_x - 0.0 <= _EPSILON):  # FPlt(x, 0) and FPle(prev_x, 0)
        return 0
    z = (x - prev_x) * y - (y - prev_y) * x
    if _zero(z):
        return None
    if (y_sign < 0 and _lt(z, 0.0)) or (y_sign > 0 and _gt(z, 0.0)):
        return 0
    return 2 * y_sign


# -- combinators ---------------------------------------------------------------------------

def _and(node: And, obj: dict) -> bool:
    return all(matches(n, obj) for n in node.items)


def _or(node: Or, obj: dict) -> bool:
    return any(matches(n, obj) for n in node.items)


def _nor(node: Nor, obj: dict) -> bool:
    return not any(matches(n, obj) for n in node.items)


_DISPATCH: dict[type, Callable[[Any, dict], bool]] = {
    Compare: _compare, In: _in, All: _all, ContainedBy: _contained_by, Exists: _exists, Regex: _regex,
    Near: _near, WithinBox: _within_box, WithinPolygon: _within_polygon, WithinSphere: _within_sphere,
    Intersects: _intersects, And: _and, Or: _or, Nor: _nor,
}
