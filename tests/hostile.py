"""Hypothesis strategies for what a hostile or careless client sends: JSON of every shape and
depth, Parse's `__type` and `__op` shapes filled with the wrong things, query operators with
odd operands, text PostgreSQL cannot hold (NUL, lone surrogates), numbers past every bound.

Shared by the domain's property tests (tests/core) and the REST fuzzing (tests/api/test_fuzz.py).
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

HUGE_INTS = st.sampled_from([2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**64) - 1, 10**30, 10**400])
ODD_FLOATS = st.sampled_from([1e308, -1e308, 5e-324, 1.5, -0.0, 1e400])
ODD_TEXT = st.sampled_from(["", "\x00", "a\x00b", "\ud800", "x\udfffy", "\U0001F600", "$", "a.b", "__type",
                            "_private", "a\n", " ", "\u202e", "%00", "../", "a" * 300])
TYPE_NAMES = st.sampled_from(["Pointer", "Date", "File", "GeoPoint", "Polygon", "Bytes", "Relation", "Object", ""])
OPS = st.sampled_from(["Increment", "Add", "AddUnique", "Remove", "Delete", "AddRelation", "RemoveRelation",
                       "Batch", "SetOnInsert", ""])
QUERY_OPS = st.sampled_from([
    "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$all", "$containedBy", "$exists", "$regex",
    "$options", "$nearSphere", "$maxDistance", "$within", "$geoWithin", "$geoIntersects", "$text", "$inQuery",
    "$notInQuery", "$select", "$dontSelect", "$relativeTime", "$box", "$polygon", "$centerSphere", "$point",
    "$search", "$term", "$foo"])
KEYS = st.one_of(st.sampled_from(["a", "score", "name", "tags", "objectId", "createdAt", "ACL", "o.k", "p"]),
                 ODD_TEXT, QUERY_OPS, st.sampled_from(["$or", "$and", "$nor", "$relatedTo"]))
REGEXES = st.sampled_from(["a{1,65535}", "(" * 300 + ")" * 300, "^(a+)+$", "\ud800", "[", "a{256}", "(?P<n>a)",
                           "\\", "a{99999999999}", "(((a{1,200}){1,200}){1,200}){1,200}", ".*"])

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), HUGE_INTS,
                    st.floats(allow_nan=False, allow_infinity=False), ODD_FLOATS, st.text(max_size=20), ODD_TEXT,
                    REGEXES)


def _typed(children: st.SearchStrategy) -> st.SearchStrategy:
    """{"__type": ..., ...} and {"__op": ...} with right and wrong members."""
    return st.one_of(
        st.fixed_dictionaries({"__type": st.one_of(TYPE_NAMES, children)},
                              optional={"className": children, "objectId": children, "iso": children,
                                        "latitude": children, "longitude": children, "name": children,
                                        "base64": children, "coordinates": children}),
        st.fixed_dictionaries({"__op": st.one_of(OPS, children)},
                              optional={"amount": children, "objects": children, "ops": children}),
        st.fixed_dictionaries({"$relativeTime": st.one_of(
            st.sampled_from(["in 99999999999999999 years", "in nan years", "3 days ago", "now", "in 1e400 days"]),
            children)}),
    )


JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=4),
        _typed(children),
    ),
    max_leaves=25,
)


def nested(depth: int, inner: object = 1) -> object:
    """A value nested `depth` levels deep, alternating arrays and objects."""
    for i in range(depth):
        inner = [inner] if i % 2 else {"a": inner}
    return inner


def or_nested(depth: int) -> dict:
    where: dict = {"a": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


# Deep enough to pass every bound, shallow enough for Python's own JSON encoder (the REST
# fuzzing adds far deeper text of its own).
DEEP = st.one_of(
    st.integers(90, 900).map(nested),
    st.integers(40, 400).map(or_nested),
    st.integers(30, 250).map(lambda d: {"a": {"$inQuery": nested_subquery(d)}}),
)


def nested_subquery(depth: int) -> dict:
    query: dict = {"className": "A", "where": {}}
    for _ in range(depth):
        query = {"className": "A", "where": {"p": {"$inQuery": query}}}
    return query


HOSTILE = st.one_of(JSON, DEEP)


def where_like(children: st.SearchStrategy = HOSTILE) -> st.SearchStrategy:
    """Objects shaped like a `where`: keys and operators from Parse's query language."""
    return st.dictionaries(KEYS, st.one_of(children, st.dictionaries(QUERY_OPS, children, max_size=3)), max_size=4)


def dumps(value: object) -> str:
    """JSON text of `value` as a client could send it: lone surrogates escaped, huge numbers
    written out, an infinite float as `1e400`."""
    return json.dumps(value).replace("-Infinity", "-1e400").replace("Infinity", "1e400")
