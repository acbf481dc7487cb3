"""The subscription index (livequery/registry.py): a filter that never drops a match."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import parse_where
from parsnip.core.query.match import matches
from parsnip.livequery.registry import Registry

_POINTERS = [{"__type": "Pointer", "className": "Room", "objectId": o} for o in ("r1", "r2")]
values = st.sampled_from(["a", "b", 1, 1.0, 2, True, False, None, *_POINTERS,
                          {"__type": "Date", "iso": "2026-01-01T00:00:00.000Z"}])
field_names = st.sampled_from(["room", "n", "objectId", "createdAt"])


def constraint():
    return st.one_of(
        values,
        st.fixed_dictionaries({"$in": st.lists(values, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"$nin": st.lists(values, min_size=1, max_size=2)}),
        st.fixed_dictionaries({"$gt": st.sampled_from([0, "a"])}),
        st.fixed_dictionaries({"$exists": st.booleans()}),
    )


simple_where = st.dictionaries(field_names, constraint(), max_size=3)
wheres = st.one_of(simple_where, st.builds(lambda a, b: {"$or": [a, b]}, simple_where, simple_where))
objects = st.one_of(st.none(), st.fixed_dictionaries({
    "objectId": st.sampled_from(["a", "b", "x1"]),
    "createdAt": st.just("2026-01-01T00:00:00.000Z"),
}, optional={"room": st.one_of(values, st.lists(values, max_size=3)), "n": values}))


@settings(max_examples=1500, deadline=None)
@given(queries=st.lists(wheres, min_size=1, max_size=6), before=objects, after=objects)
def test_every_query_that_matches_is_a_candidate(queries, before, after):
    reg = Registry()
    made = []
    for i, where in enumerate(queries):
        node = parse_where(where)
        q = reg.query_for("C", where, node)
        reg.add(q, i)
        made.append(q)
    found = set(map(id, reg.candidates("C", (before, after))))
    for q in made:
        if any(o is not None and _matches(q.node, o) for o in (before, after)):
            assert id(q) in found, (q.where_key, before, after)


def _matches(node, obj) -> bool:
    try:
        return matches(node, obj)
    except ParseError:  # a query the server refuses at subscribe (e.g. createdAt == "a")
        return False


def test_an_event_meets_only_the_queries_of_its_rooms():
    reg = Registry()
    rooms = [reg.query_for("Chat", {"room": f"r{i}"}, parse_where({"room": f"r{i}"})) for i in range(1000)]
    for i, q in enumerate(rooms):
        reg.add(q, i)
    scan = reg.query_for("Chat", {"n": {"$gt": 1}}, parse_where({"n": {"$gt": 1}}))
    reg.add(scan, "scan")
    got = reg.candidates("Chat", ({"room": "r5"}, {"room": ["r7", "r9"]}))
    assert {q.where_key for q in got} == {'{"room":"r5"}', '{"room":"r7"}', '{"room":"r9"}', '{"n":{"$gt":1}}'}
    assert reg.candidates("Other", ({"room": "r5"}, None)) == []


def test_identical_queries_share_one_entry_and_leave_nothing_behind():
    reg = Registry()
    where = {"status": {"$in": ["open", "new"]}, "n": {"$gt": 1}}
    a = reg.query_for("T", where, parse_where(where))
    b = reg.query_for("T", {"n": {"$gt": 1}, "status": {"$in": ["open", "new"]}}, parse_where(where))
    assert a is b
    reg.add(a, "s1")
    reg.add(b, "s2")
    assert reg.subscription_count == 2
    reg.remove(a, "s1")
    assert reg.has_class("T") and reg.candidates("T", ({"status": "new"}, None)) == [a]
    reg.remove(a, "s2")
    reg.remove(a, "s2")  # removing twice is harmless
    assert reg.subscription_count == 0 and not reg.has_class("T")
    assert reg.query_for("T", where, parse_where(where)) is not a  # a fresh entry
