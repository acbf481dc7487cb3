"""`where` as typed nodes. Every evaluator walks these; nothing else parses Parse queries.

`parse_where` checks the whole query up front: an unknown operator, a malformed value or a bad
key is refused with 102 (105 for a bad key name), naming what is wrong, never ignored. The
evaluators are `core/query/sql/` (PostgreSQL) and `core/query/match.py` (in memory).

Field paths are dotted (`a.b.c` reaches into Object fields); `Field.parts` holds the segments.
Values stay in Parse's REST encoding, except that `$relativeTime` is resolved to a Date here and
geo distances are converted to radians.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from re import _constants as _sre_constants  # the parsed pattern's opcodes
from re import _parser as _sre_parse  # the pattern as a tree, to read its repetition bounds
from typing import Any, Union

from parsnip.core.errors import ParseError
from parsnip.core.json_input import MAX_DEPTH, exceeds_depth
from parsnip.core.values import date_value, type_of

EARTH_RADIUS_KM = 6371.0
EARTH_RADIUS_MILES = 3958.8

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[^$.\x00]+")
_REGEX_OPTIONS = frozenset("imxs")


# -- nodes ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Compare:
    """`field op value`; op is eq, ne, lt, lte, gt or gte. eq on an array field means "contains"."""

    field: str
    op: str
    value: Any
    relative: bool = False  # the value came from $relativeTime (the field must be a Date)


@dataclass(frozen=True, slots=True)
class In:
    """$in / $nin: the field (or an element of an array field) equals one of `values`."""

    field: str
    values: tuple
    negate: bool = False


@dataclass(frozen=True, slots=True)
class All:
    """$all: an array field contains every one of `values`."""

    field: str
    values: tuple


@dataclass(frozen=True, slots=True)
class ContainedBy:
    """$containedBy: every element of an array field is one of `values`."""

    field: str
    values: tuple


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class Regex:
    """$regex with $options (i, m, x, s); \\Q...\\E already turned into escaped text."""

    field: str
    pattern: str
    options: str = ""


@dataclass(frozen=True, slots=True)
class Near:
    """$nearSphere: results within `max_distance` radians (None: any), sorted nearest first."""

    field: str
    latitude: float
    longitude: float
    max_distance: float | None = None


@dataclass(frozen=True, slots=True)
class WithinBox:
    """$within $box: south-west and north-east corners as (latitude, longitude)."""

    field: str
    south_west: tuple[float, float]
    north_east: tuple[float, float]


@dataclass(frozen=True, slots=True)
class WithinPolygon:
    """$geoWithin $polygon: points as (latitude, longitude)."""

    field: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class WithinSphere:
    """$geoWithin $centerSphere: within `radius` radians of the centre."""

    field: str
    latitude: float
    longitude: float
    radius: float


@dataclass(frozen=True, slots=True)
class Intersects:
    """$geoIntersects $point: a Polygon field contains the point."""

    field: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Text:
    """$text $search on a String field (PostgreSQL full-text search)."""

    field: str
    term: str
    language: str = "english"
    case_sensitive: bool = False
    diacritic_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class InQuery:
    """$inQuery / $notInQuery: a pointer field points at an object the subquery matches."""

    field: str
    class_name: str
    where: "Node"
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Select:
    """$select / $dontSelect: the field's value is the `key` of an object the subquery matches."""

    field: str
    class_name: str
    where: "Node"
    key: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class RelatedTo:
    """$relatedTo: objects in the relation `key` of `object` (a pointer)."""

    class_name: str
    object_id: str
    key: str


@dataclass(frozen=True, slots=True)
class InRelation:
    """Owners whose relation `field` holds one of `object_ids` (none of them: `negate`), what
    a constraint on a Relation key means (`core/query/relations.py` makes it)."""

    field: str
    owner_class: str
    object_ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Nor:
    items: tuple["Node", ...]


Node = Union[
    Compare, In, All, ContainedBy, Exists, Regex, Near, WithinBox, WithinPolygon, WithinSphere,
    Intersects, Text, InQuery, Select, RelatedTo, InRelation, And, Or, Nor,
]

# Nodes an in-memory evaluator cannot decide from one object alone (they need other rows).
NEEDS_DATABASE = (InQuery, Select, RelatedTo, InRelation, Text)


def walk(node: Node):
    """Every node of the tree, parents before children (subqueries not entered)."""
    yield node
    if isinstance(node, (And, Or, Nor)):
        for item in node.items:
            yield from walk(item)


def near_of(node: Node) -> Near | None:
    """The $nearSphere constraint, if any: its results are sorted by distance."""
    for n in walk(node):
        if isinstance(n, Near):
            return n
    return None


# -- parsing ------------------------------------------------------------------------------

def _bad(message: str) -> ParseError:
    return ParseError(ParseError.INVALID_QUERY, message)


def _json_error(message: str) -> ParseError:
    # Parse Server answers $relativeTime mistakes with 107.
    return ParseError(ParseError.INVALID_JSON, message)


def check_relative_times(node: "Node", field_type: Any) -> None:
    """107 when $relativeTime is used on a field that is not a Date (`field_type(name)` -> type)."""
    for n in walk(node):
        if isinstance(n, Compare) and n.relative and n.field not in ("createdAt", "updatedAt"):
            t = field_type(n.field.split(".")[0])
            if not t or t.get("type") != "Date":
                raise _json_error("$relativeTime can only be used with Date field")


def parse_where(where: Any, *, now: datetime | None = None) -> Node:
    """Parse a `where` object; 102 with the offending key or operator when it is invalid.

    Any JSON value gets a node or a ParseError, never another exception: nesting deeper than
    MAX_DEPTH (the bound on client JSON) is refused before anything recurses into it."""
    if exceeds_depth(where, MAX_DEPTH):
        raise _bad(f"where is nested too deeply (at most {MAX_DEPTH} levels)")
    return _parse_where(where, now or datetime.now(timezone.utc))


def _parse_where(where: Any, now: datetime) -> Node:
    if where is None:
        return And(())
    if not isinstance(where, dict):
        raise _bad("where must be a JSON object")
    items: list[Node] = []
    for key, cond in where.items():
        if key in ("$or", "$and", "$nor"):
            if not isinstance(cond, list) or not cond:
                raise _bad(f"{key} must be a nonempty array")
            subs = tuple(_parse_where(c, now) for c in cond)
            items.append({"$or": Or, "$and": And, "$nor": Nor}[key](subs))
        elif key == "$relatedTo":
            items.append(_related_to(cond))
        elif not isinstance(key, str) or key.startswith("$"):
            raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid key name: {key}")
        else:
            check_key(key)
            items.append(_parse_field(key, cond, now))
    return items[0] if len(items) == 1 else And(tuple(items))


def check_key(key: str) -> None:
    """105 unless `key` is a field name or a dotted path into an Object field."""
    first, *rest = key.split(".")
    if not _FIELD.fullmatch(first) or not all(_SEGMENT.fullmatch(p) for p in rest):
        raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid key name: {key}")


def _check_value(value: Any, what: str = "value") -> None:
    try:
        type_of(value)
    except ParseError as e:
        raise _bad(f"invalid {what} in query: {e.message}") from None


def _array(op: str, field: str, value: Any) -> tuple:
    if not isinstance(value, list):
        raise _bad(f"bad {op} value on key {field}: must be an array")
    for v in value:
        _check_value(v)
    return tuple(value)


_COMPARE = {"$eq": "eq", "$ne": "ne", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte"}


def _parse_field(field: str, cond: Any, now: datetime) -> Node:
    if not (isinstance(cond, dict) and any(str(k).startswith("$") for k in cond)):
        _check_value(cond)
        return Compare(field, "eq", cond)
    parts: list[Node] = []
    ops = dict(cond)
    # Operators that read a sibling: $options with $regex, $maxDistance* with $nearSphere.
    options = ops.pop("$options", None)
    max_distance = {k: ops.pop(k) for k in list(ops) if k.startswith("$maxDistance")}
    if options is not None and "$regex" not in ops:
        raise _bad(f"$options without $regex on key {field}")
    if max_distance and "$nearSphere" not in ops:
        raise _bad(f"$maxDistance without $nearSphere on key {field}")
    for op, value in ops.items():
        if op in _COMPARE:
            relative = isinstance(value, dict) and "$relativeTime" in value
            if relative:
                if op in ("$eq", "$ne"):
                    raise _json_error("$relativeTime can only be used with the $lt, $lte, $gt, and $gte operators")
                value = date_value(relative_time(value["$relativeTime"], now))
            _check_value(value)
            parts.append(Compare(field, _COMPARE[op], value, relative))
        elif op in ("$in", "$nin"):
            parts.append(In(field, _array(op, field, value), negate=op == "$nin"))
        elif op == "$all" and isinstance(value, list) and value and all(
                isinstance(v, dict) and "$regex" in v for v in value):
            # Every pattern matches some element (the SDK's containsAllStartingWith).
            parts.extend(_regex(field, v["$regex"], v.get("$options")) for v in value)
        elif op == "$all":
            parts.append(All(field, _array(op, field, value)))
        elif op == "$containedBy":
            parts.append(ContainedBy(field, _array(op, field, value)))
        elif op == "$exists":
            if not isinstance(value, bool):
                raise _bad(f"$exists must be a boolean on key {field}")
            parts.append(Exists(field, value))
        elif op == "$regex":
            parts.append(_regex(field, value, options))
        elif op == "$nearSphere":
            parts.append(_near(field, value, max_distance))
        elif op == "$within":
            parts.append(_within(field, value))
        elif op == "$geoWithin":
            parts.append(_geo_within(field, value))
        elif op == "$geoIntersects":
            parts.append(_intersects(field, value))
        elif op == "$text":
            parts.append(_text(field, value))
        elif op in ("$inQuery", "$notInQuery"):
            cls, where = _subquery(op, value)
            parts.append(InQuery(field, cls, where, negate=op == "$notInQuery"))
        elif op in ("$select", "$dontSelect"):
            if not isinstance(value, dict) or not isinstance(value.get("key"), str):
                raise _bad(f"bad {op} value on key {field}: needs query and key")
            cls, where = _subquery(op, value.get("query"))
            check_key(value["key"])
            parts.append(Select(field, cls, where, value["key"], negate=op == "$dontSelect"))
        else:
            raise _bad(f"bad constraint {op} on key {field}")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


# -- operator details ----------------------------------------------------------------------

def _regex(field: str, value: Any, options: Any) -> Regex:
    if not isinstance(value, str):
        raise _bad(f"bad $regex value on key {field}: must be a string")
    if options is None:
        options = ""
    if not isinstance(options, str) or set(options) - _REGEX_OPTIONS:
        raise _bad(f"bad $options value on key {field}: {options!r}")
    pattern = _unquote(value)
    try:
        parsed = _sre_parse.parse(pattern)
        re.compile(pattern)
    except (re.error, OverflowError) as e:  # OverflowError: a{99999999999}
        raise _bad(f"bad $regex value on key {field}: {e}") from None
    except RecursionError:
        raise _bad(f"bad $regex value on key {field}: the pattern nests too deeply") from None
    if _largest_repeat(parsed) > MAX_REPEAT:
        raise _bad(f"bad $regex value on key {field}: repetition counts above {MAX_REPEAT} are not supported")
    return Regex(field, pattern, "".join(sorted(set(options))))


# PostgreSQL's regular expressions refuse a bound above 255 (`a{1,256}`); both evaluators
# must agree on what a pattern means, so the AST refuses it for both.
MAX_REPEAT = 255
_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT,
            getattr(_sre_constants, "POSSESSIVE_REPEAT", _sre_constants.MAX_REPEAT)}


def _largest_repeat(parsed) -> int:
    """The largest explicit repetition bound in a parsed pattern (`*` and `+` have none)."""
    largest = 0
    stack = [parsed]
    while stack:
        for op, av in stack.pop():
            if op in _REPEATS:
                low, high, sub = av
                largest = max(largest, low, 0 if high == _sre_constants.MAXREPEAT else high)
                stack.append(sub)
            elif op is _sre_constants.SUBPATTERN:
                stack.append(av[-1])
            elif op is _sre_constants.BRANCH:
                stack.extend(av[1])
            elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
                stack.append(av[1])
            elif op is _sre_constants.GROUPREF_EXISTS:
                stack.extend(p for p in av[1:] if p is not None)
            elif op is getattr(_sre_constants, "ATOMIC_GROUP", None):
                stack.append(av)
    return largest


def _unquote(pattern: str) -> str:
    r"""Replace each \Q...\E with the same text escaped, in a syntax Python and PostgreSQL share."""
    out, i = [], 0
    while True:
        start = pattern.find(r"\Q", i)
        if start < 0:
            out.append(pattern[i:])
            return "".join(out)
        end = pattern.find(r"\E", start + 2)
        literal = pattern[start + 2:] if end < 0 else pattern[start + 2:end]
        out.append(pattern[i:start])
        out.append("".join(ch if ch.isalnum() or ch == "_" else "\\" + ch for ch in literal))
        if end < 0:
            return "".join(out)
        i = end + 2


def _point(value: Any, what: str) -> tuple[float, float]:
    """A GeoPoint (or Parse's [latitude, longitude] pair) as (latitude, longitude)."""
    if isinstance(value, dict) and value.get("__type") == "GeoPoint":
        try:
            type_of(value)
        except ParseError as e:
            raise _bad(f"bad {what}: {e.message}") from None
        return float(value["latitude"]), float(value["longitude"])
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):
        lat, lng = float(value[0]), float(value[1])
        if -90 <= lat <= 90 and -180 <= lng <= 180:
            return lat, lng
    raise _bad(f"bad {what}: expected a GeoPoint")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _bad(f"bad {what}: expected a non-negative number")
    return float(value)


def _near(field: str, value: Any, max_distance: dict[str, Any]) -> Near:
    lat, lng = _point(value, "$nearSphere")
    radians = None
    for key, raw in max_distance.items():
        d = _number(raw, key)
        if key in ("$maxDistance", "$maxDistanceInRadians"):
            radians = d
        elif key == "$maxDistanceInKilometers":
            radians = d / EARTH_RADIUS_KM
        elif key == "$maxDistanceInMiles":
            radians = d / EARTH_RADIUS_MILES
        else:
            raise _bad(f"bad constraint {key} on key {field}")
    return Near(field, lat, lng, radians)


def _within(field: str, value: Any) -> WithinBox:
    box = value.get("$box") if isinstance(value, dict) else None
    if not isinstance(box, list) or len(box) != 2:
        raise _bad(f"bad $within value on key {field}: needs $box with two GeoPoints")
    sw, ne = _point(box[0], "$box"), _point(box[1], "$box")
    if sw[0] > ne[0]:
        raise _bad("bad $box: the south-west corner must be south of the north-east corner")
    return WithinBox(field, sw, ne)


def _geo_within(field: str, value: Any) -> Node:
    if not isinstance(value, dict):
        raise _bad(f"bad $geoWithin value on key {field}")
    if "$polygon" in value:
        poly = value["$polygon"]
        if isinstance(poly, dict) and poly.get("__type") == "Polygon":
            poly = poly.get("coordinates")
        if not isinstance(poly, list) or len(poly) < 3:
            raise _bad("bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
        return WithinPolygon(field, tuple(_point(p, "$polygon") for p in poly))
    if "$centerSphere" in value:
        cs = value["$centerSphere"]
        if not isinstance(cs, list) or len(cs) != 2:
            raise _bad("bad $geoWithin value; $centerSphere should be an array of a point and a distance")
        centre = cs[0]
        if isinstance(centre, list) and len(centre) == 2:
            centre = [centre[1], centre[0]]  # Parse writes $centerSphere centres as [longitude, latitude]
        lat, lng = _point(centre, "$centerSphere")
        return WithinSphere(field, lat, lng, _number(cs[1], "$centerSphere distance"))
    raise _bad(f"bad $geoWithin value on key {field}: needs $polygon or $centerSphere")


def _intersects(field: str, value: Any) -> Intersects:
    point = value.get("$point") if isinstance(value, dict) else None
    lat, lng = _point(point, "$geoIntersects $point")
    return Intersects(field, lat, lng)


def _text(field: str, value: Any) -> Text:
    search = value.get("$search") if isinstance(value, dict) else None
    if not isinstance(search, dict):
        raise _bad("bad $text: $search, should be object")
    term = search.get("$term")
    if not isinstance(term, str):
        raise _bad("bad $text: $term, should be string")
    language = search.get("$language", "english")
    if not isinstance(language, str) or not language.isalpha():
        raise _bad("bad $text: $language, should be string")
    flags = {}
    for key in ("$caseSensitive", "$diacriticSensitive"):
        flag = search.get(key, False)
        if not isinstance(flag, bool):
            raise _bad(f"bad $text: {key}, should be boolean")
        flags[key] = flag
    return Text(field, term, language.lower(), flags["$caseSensitive"], flags["$diacriticSensitive"])


def _subquery(op: str, value: Any) -> tuple[str, Node]:
    if not isinstance(value, dict) or not isinstance(value.get("className"), str):
        raise _bad(f"bad {op} value: needs className and where")
    from parsnip.core.schema import check_class_name

    check_class_name(value["className"])
    return value["className"], _parse_where(value.get("where") or {}, datetime.now(timezone.utc))


def _related_to(value: Any) -> RelatedTo:
    obj = value.get("object") if isinstance(value, dict) else None
    key = value.get("key") if isinstance(value, dict) else None
    if not (isinstance(obj, dict) and obj.get("__type") == "Pointer" and isinstance(obj.get("className"), str)
            and isinstance(obj.get("objectId"), str) and isinstance(key, str)):
        raise _bad("bad $relatedTo value: needs object (a Pointer) and key")
    check_key(key)
    return RelatedTo(obj["className"], obj["objectId"], key)


_RELATIVE = re.compile(r"^(?:(in) )?(.+?)(?: (ago))?$")
_UNITS = {
    "yr": 365 * 86400, "yrs": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
    "wk": 7 * 86400, "wks": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "d": 86400, "day": 86400, "days": 86400,
    "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}


def relative_time(text: Any, now: datetime) -> datetime:
    """Parse's $relativeTime: "in 2 days", "3 hours ago", "now", with several unit pairs."""
    if not isinstance(text, str):
        raise _json_error("$relativeTime must be a string")
    s = " ".join(text.lower().split())
    if s == "now":
        return now
    m = _RELATIVE.match(s)
    future, body, past = m.group(1), m.group(2), m.group(3)
    if bool(future) == bool(past):
        raise _json_error("Time should either start with 'in' or end with 'ago'")
    words = body.split(" ")
    if len(words) % 2:
        raise _json_error("Invalid time string. Dangling unit or number.")
    seconds = 0.0
    for number, unit in zip(words[::2], words[1::2]):
        try:
            n = float(number)
        except ValueError:
            n = math.nan
        if not math.isfinite(n):
            raise _json_error(f"'{number}' is not an integer.")
        if unit not in _UNITS:
            raise _json_error(f"Invalid interval: '{unit}'")
        seconds += n * _UNITS[unit]
    try:
        delta = timedelta(seconds=seconds)
        return now + delta if future else now - delta
    except OverflowError:  # beyond the years 1 to 9999
        raise _json_error(f"$relativeTime is out of range: {text}") from None
