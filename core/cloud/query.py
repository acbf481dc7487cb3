"""`ParseQuery`: a query in Cloud Code, as the JS SDK's `Parse.Query` is, in Python.

Constraints build Parse's `where` (the REST form, so the service layer reads it exactly as a
client's); `find`, `first`, `get` and `count` call the service layer in-process, acting as the
master key, a session's user, or a client with no session (`core/cloud/binding.py`), so ACLs
and class-level permissions apply unless `master=True`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

from parsnip.core.cloud import binding, codec
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.errors import ParseError
from parsnip.core.services.classes import service_for

_EARTH_KM = 6371.0
_EARTH_MILES = 3958.8
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


class ParseQuery:
    """Objects of `class_name` that match every constraint added (each method returns the
    query, so calls chain: `ParseQuery("Review").greater_than("stars", 3).descending("stars")`)."""

    def __init__(self, class_name: str) -> None:
        if not isinstance(class_name, str) or not class_name:
            raise TypeError(f"a class name must be a non-empty string, not {class_name!r}")
        self.class_name = class_name
        self._where: dict[str, Any] = {}
        self._order: list[str] = []
        self._include: list[str] = []
        self._keys: list[str] | None = None
        self._exclude: list[str] = []
        self._limit: int | None = None
        self._skip = 0

    # -- combining -------------------------------------------------------------------------------
    @classmethod
    def or_(cls, *queries: "ParseQuery") -> "ParseQuery":
        """Objects that match any of the queries (all of one class)."""
        return cls._compound("$or", queries)

    @classmethod
    def and_(cls, *queries: "ParseQuery") -> "ParseQuery":
        """Objects that match all of the queries (all of one class)."""
        return cls._compound("$and", queries)

    @classmethod
    def nor(cls, *queries: "ParseQuery") -> "ParseQuery":
        """Objects that match none of the queries (all of one class)."""
        return cls._compound("$nor", queries)

    @classmethod
    def _compound(cls, op: str, queries: Sequence["ParseQuery"]) -> "ParseQuery":
        names = {q.class_name for q in queries}
        if len(names) != 1:
            raise ValueError("the queries must be on one and the same class")
        combined = cls(names.pop())
        combined._where[op] = [dict(q._where) for q in queries]
        return combined

    # -- constraints -------------------------------------------------------------------------------
    def equal_to(self, key: str, value: Any) -> "ParseQuery":
        self._where[_key(key)] = codec.encode(value, pointers=True)
        return self

    def not_equal_to(self, key: str, value: Any) -> "ParseQuery":
        return self._add(key, "$ne", value)

    def less_than(self, key: str, value: Any) -> "ParseQuery":
        return self._add(key, "$lt", value)

    def less_than_or_equal_to(self, key: str, value: Any) -> "ParseQuery":
        return self._add(key, "$lte", value)

    def greater_than(self, key: str, value: Any) -> "ParseQuery":
        return self._add(key, "$gt", value)

    def greater_than_or_equal_to(self, key: str, value: Any) -> "ParseQuery":
        return self._add(key, "$gte", value)

    def contained_in(self, key: str, values: Iterable[Any]) -> "ParseQuery":
        """The field's value (or one of its array's items) is one of `values`."""
        return self._add(key, "$in", list(values))

    def not_contained_in(self, key: str, values: Iterable[Any]) -> "ParseQuery":
        return self._add(key, "$nin", list(values))

    def contains_all(self, key: str, values: Iterable[Any]) -> "ParseQuery":
        """The array field holds every one of `values`."""
        return self._add(key, "$all", list(values))

    def contained_by(self, key: str, values: Iterable[Any]) -> "ParseQuery":
        """Every item of the array field is one of `values`."""
        return self._add(key, "$containedBy", list(values))

    def exists(self, key: str) -> "ParseQuery":
        return self._add(key, "$exists", True)

    def does_not_exist(self, key: str) -> "ParseQuery":
        return self._add(key, "$exists", False)

    def matches(self, key: str, regex: str | re.Pattern, modifiers: str = "") -> "ParseQuery":
        """The string field matches `regex` (a compiled pattern's flags become Parse's modifiers)."""
        if isinstance(regex, re.Pattern):
            modifiers += "".join(m for flag, m in _FLAGS if regex.flags & flag and m not in modifiers)
            regex = regex.pattern
        self._add(key, "$regex", regex)
        if modifiers:
            self._where[key]["$options"] = modifiers
        return self

    def contains(self, key: str, substring: str) -> "ParseQuery":
        return self._add(key, "$regex", _quote(substring))

    def starts_with(self, key: str, prefix: str) -> "ParseQuery":
        return self._add(key, "$regex", "^" + _quote(prefix))

    def ends_with(self, key: str, suffix: str) -> "ParseQuery":
        return self._add(key, "$regex", _quote(suffix) + "$")

    def full_text(self, key: str, text: str) -> "ParseQuery":
        return self._add(key, "$text", {"$search": {"$term": text}})

    def matches_query(self, key: str, query: "ParseQuery") -> "ParseQuery":
        """The pointer field points at an object `query` finds."""
        return self._add(key, "$inQuery", query._subquery())

    def does_not_match_query(self, key: str, query: "ParseQuery") -> "ParseQuery":
        return self._add(key, "$notInQuery", query._subquery())

    def matches_key_in_query(self, key: str, query_key: str, query: "ParseQuery") -> "ParseQuery":
        """The field's value is the `query_key` of some object `query` finds."""
        return self._add(key, "$select", {"key": query_key, "query": query._subquery()})

    def does_not_match_key_in_query(self, key: str, query_key: str, query: "ParseQuery") -> "ParseQuery":
        return self._add(key, "$dontSelect", {"key": query_key, "query": query._subquery()})

    def near(self, key: str, point: Any) -> "ParseQuery":
        """Nearest first to `point` (a GeoPoint's JSON, or `(latitude, longitude)`)."""
        return self._add(key, "$nearSphere", _geo_point(point))

    def within_radians(self, key: str, point: Any, distance: float) -> "ParseQuery":
        self.near(key, point)
        return self._add(key, "$maxDistance", distance)

    def within_kilometers(self, key: str, point: Any, distance: float) -> "ParseQuery":
        return self.within_radians(key, point, distance / _EARTH_KM)

    def within_miles(self, key: str, point: Any, distance: float) -> "ParseQuery":
        return self.within_radians(key, point, distance / _EARTH_MILES)

    def within_geo_box(self, key: str, southwest: Any, northeast: Any) -> "ParseQuery":
        return self._add(key, "$within", {"$box": [_geo_point(southwest), _geo_point(northeast)]})

    def within_polygon(self, key: str, points: Iterable[Any]) -> "ParseQuery":
        return self._add(key, "$geoWithin", {"$polygon": [_geo_point(p) for p in points]})

    def polygon_contains(self, key: str, point: Any) -> "ParseQuery":
        return self._add(key, "$geoIntersects", {"$point": _geo_point(point)})

    def _add(self, key: str, op: str, value: Any) -> "ParseQuery":
        current = self._where.get(_key(key))
        if not (isinstance(current, dict) and current and all(str(k).startswith("$") for k in current)):
            current = self._where[key] = {}  # an equal_to on the key gives way, as in the JS SDK
        current[op] = codec.encode(value, pointers=True)
        return self

    def _subquery(self) -> dict[str, Any]:
        return {"where": dict(self._where), "className": self.class_name}

    # -- shaping the results -------------------------------------------------------------------------
    def include(self, *keys: str) -> "ParseQuery":
        """Fetch the objects these pointer fields (dotted paths too) point at, with the results."""
        self._include += [_key(k) for k in keys]
        return self

    def select(self, *keys: str) -> "ParseQuery":
        """Return only these fields (and objectId, createdAt, updatedAt, ACL)."""
        self._keys = [*(self._keys or []), *(_key(k) for k in keys)]
        return self

    def exclude(self, *keys: str) -> "ParseQuery":
        self._exclude += [_key(k) for k in keys]
        return self

    def ascending(self, *keys: str) -> "ParseQuery":
        self._order = []
        return self.add_ascending(*keys)

    def descending(self, *keys: str) -> "ParseQuery":
        self._order = []
        return self.add_descending(*keys)

    def add_ascending(self, *keys: str) -> "ParseQuery":
        self._order += [_key(k) for k in keys]
        return self

    def add_descending(self, *keys: str) -> "ParseQuery":
        self._order += ["-" + _key(k) for k in keys]
        return self

    def limit(self, n: int) -> "ParseQuery":
        self._limit = _count(n, "limit")
        return self

    def skip(self, n: int) -> "ParseQuery":
        self._skip = _count(n, "skip")
        return self

    def to_json(self) -> dict[str, Any]:
        """The query as a REST find's options (`where`, `order`, `limit`, ...)."""
        params: dict[str, Any] = {"where": self._where}
        if self._order:
            params["order"] = ",".join(self._order)
        if self._include:
            params["include"] = ",".join(self._include)
        if self._keys is not None:
            params["keys"] = ",".join(self._keys)
        if self._exclude:
            params["excludeKeys"] = ",".join(self._exclude)
        if self._limit is not None:
            params["limit"] = self._limit
        if self._skip:
            params["skip"] = self._skip
        return params

    def __repr__(self) -> str:
        return f"ParseQuery({self.class_name!r}, {json.dumps(self.to_json())})"

    # -- running -------------------------------------------------------------------------------------
    async def find(self, master: bool = False, session_token: str | None = None) -> list[ParseObject]:
        """The objects the caller may see that match (100 at most unless `limit` says otherwise)."""
        return await self._find(self.to_json(), master, session_token)

    async def first(self, master: bool = False, session_token: str | None = None) -> ParseObject | None:
        found = await self._find({**self.to_json(), "limit": 1}, master, session_token)
        return found[0] if found else None

    async def get(self, object_id: str, master: bool = False, session_token: str | None = None) -> ParseObject:
        """The object with this id that also matches the query; 101 when there is none to see."""
        params = self.to_json()
        params = {**params, "where": {**params["where"], "objectId": object_id}, "limit": 1}
        found = await self._find(params, master, session_token)
        if not found:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
        return found[0]

    async def count(self, master: bool = False, session_token: str | None = None) -> int:
        """How many objects match, of those the caller may see."""
        rt, caller = await binding.acting(master, session_token)
        params = {"where": self._where, "count": 1, "limit": 0}
        found = await service_for(self.class_name).find(rt, caller, self.class_name, params)
        return found.count or 0

    async def _find(self, params: dict[str, Any], master: bool, session_token: str | None) -> list[ParseObject]:
        rt, caller = await binding.acting(master, session_token)
        found = await service_for(self.class_name).find(rt, caller, self.class_name, params)
        return [ParseObject.from_json(json.loads(text), self.class_name) for text in found.results]


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"a field name must be a non-empty string, not {key!r}")
    return key


def _count(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return n


def _quote(text: str) -> str:
    """`text` as a literal in a Parse regex (the JS SDK's \\Q...\\E quoting)."""
    if not isinstance(text, str):
        raise TypeError("the text to look for must be a string")
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _geo_point(point: Any) -> dict[str, Any]:
    if isinstance(point, dict):
        return point
    if isinstance(point, (tuple, list)) and len(point) == 2:
        return {"__type": "GeoPoint", "latitude": point[0], "longitude": point[1]}
    raise TypeError("a point is a GeoPoint's JSON or a (latitude, longitude) pair")
