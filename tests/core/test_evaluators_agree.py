"""One AST, two evaluators that agree: SQL over real projections and the in-memory matcher.

The shared vectors (tests/core/shared_vectors.py) go through both and must give the expected
objects; then hypothesis generates random objects and random queries over every decidable
operator and checks that both evaluators return the same set. PARSNIP_HYPOTHESIS_EXAMPLES sets
how many random examples run (default 300; 3,000 when CI is set).
"""

from __future__ import annotations

import json
import os

import pytest
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parsnip.core.commands import Create
from parsnip.core.events import Context
from parsnip.core.operations import parse_op
from parsnip.core.query.ast import parse_where
from parsnip.core.query.match import CannotDecide, decidable, matches
from parsnip.projections import reader
from tests.core.shared_vectors import CASES, OBJECTS

MASTER = Context(master=True)


async def _insert(rt, class_name: str, objects: list[dict]) -> None:
    await rt.write([Create(class_name, {k: parse_op(v) for k, v in obj.items()}) for obj in objects], MASTER)


async def _stored(rt, class_name: str, where: dict | None = None) -> list[dict]:
    texts, _ = await rt.read(reader.find, class_name, reader.FindOptions(where=parse_where(where), limit=100_000))
    return [json.loads(t) for t in texts]


@pytest.fixture
async def vectors(runtime):
    await _insert(runtime, "Vec", OBJECTS)
    return runtime, await _stored(runtime, "Vec")


@pytest.mark.parametrize("name, where, expected", CASES, ids=[c[0] for c in CASES])
async def test_vectors_through_both_evaluators(vectors, name, where, expected):
    rt, stored = vectors
    node = parse_where(where)
    by_sql = sorted(o["k"] for o in await _stored(rt, "Vec", where))
    in_memory = sorted(o["k"] for o in stored if matches(node, o))
    assert by_sql == sorted(expected), f"SQL: {name}"
    assert in_memory == sorted(expected), f"matcher: {name}"


@pytest.mark.parametrize("where", [
    {"p": {"$inQuery": {"className": "Owner", "where": {}}}},
    {"p": {"$select": {"query": {"className": "Owner", "where": {}}, "key": "x"}}},
    {"$relatedTo": {"object": {"__type": "Pointer", "className": "Owner", "objectId": "o1"}, "key": "r"}},
    {"s": {"$text": {"$search": {"$term": "apple"}}}},
    {"$or": [{"s": "apple"}, {"s": {"$text": {"$search": {"$term": "apple"}}}}]},
])
def test_the_matcher_says_when_it_cannot_decide(where):
    node = parse_where(where)
    assert not decidable(node)
    with pytest.raises(CannotDecide):
        matches(node, OBJECTS[1])  # (banana: the $or must reach its $text branch)


# -- random objects and queries --------------------------------------------------------------

_WORDS = st.text(alphabet="aAbB é", min_size=0, max_size=3)
_NUMS = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, -1.5, 2.25]))
_DATES = st.sampled_from([f"2020-01-0{d}T00:00:00.000Z" for d in range(1, 6)]).map(lambda i: {"__type": "Date", "iso": i})
_ELEMS = st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(0, 3))
FIELDS = {
    "s": _WORDS,
    "n": _NUMS,
    "b": st.booleans(),
    "a": st.lists(_ELEMS, max_size=3),
    "d": _DATES,
    "o": st.fixed_dictionaries({"k": st.integers(0, 3)}),
}


@st.composite
def objects(draw):
    return {name: draw(values) for name, values in FIELDS.items() if draw(st.booleans())}


def _value_for(field):
    if field == "o.k":
        return st.integers(0, 3)
    return FIELDS[field] if field != "a" else _ELEMS


@st.composite
def leaf(draw):
    field = draw(st.sampled_from([*FIELDS, "o.k"]))
    kind = draw(st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "exists", "all",
                                 "containedBy", "regex", "null"]))
    value = _value_for(field)
    if kind == "eq":
        return {field: draw(value)}
    if kind == "null":
        return {field: None}
    if kind in ("ne", "lt", "lte", "gt", "gte"):
        return {field: {f"${kind}": draw(value)}}
    if kind in ("in", "nin"):
        return {field: {f"${kind}": draw(st.lists(value, max_size=3))}}
    if kind == "exists":
        return {field: {"$exists": draw(st.booleans())}}
    if kind in ("all", "containedBy"):
        return {"a": {f"${kind}": draw(st.lists(_ELEMS, max_size=3))}}
    pattern = draw(st.sampled_from(["^a", "b$", "a.b", "^$", "A", "é", "[ab]+"]))
    return {draw(st.sampled_from(["s", "a"])): {"$regex": pattern, "$options": draw(st.sampled_from(["", "i", "s", "m"]))}}


def where_dicts():
    return st.recursive(
        leaf(),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"$or": xs}),
            st.lists(children, min_size=1, max_size=3).map(lambda xs: {"$and": xs}),
            st.lists(children, min_size=1, max_size=2).map(lambda xs: {"$nor": xs}),
        ),
        max_leaves=4,
    )


async def test_random_queries_agree(runtime):
    examples = int(os.environ.get("PARSNIP_HYPOTHESIS_EXAMPLES", "3000" if os.environ.get("CI") else "300"))
    counter = iter(range(10**9))

    async def one(objs: list[dict], where: dict) -> None:
        tag = f"t{next(counter)}"
        await _insert(runtime, "Rnd", [{**o, "tag": tag} for o in objs])
        stored = await _stored(runtime, "Rnd", {"tag": tag})
        node = parse_where(where)
        by_sql = sorted(o["objectId"] for o in await _stored(runtime, "Rnd", {"$and": [{"tag": tag}, where]}))
        in_memory = sorted(o["objectId"] for o in stored if matches(node, o))
        assert by_sql == in_memory, f"where={where!r} objects={stored!r}"

    def run_hypothesis() -> None:
        @settings(max_examples=examples, deadline=None, derandomize=bool(os.environ.get("CI")),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(st.lists(objects(), min_size=1, max_size=6), where_dicts())
        # Known sharp edges, always tried besides the random examples.
        @example([{"s": "a"}, {"s": "B"}, {"s": "é"}], {"s": {"$lt": "B"}})
        @example([{"n": 1}, {"n": 1.0}, {"n": 2.5}, {}], {"n": {"$in": [1, None]}})
        @example([{"a": ["a", 1]}, {"a": []}, {}], {"$nor": [{"a": {"$all": []}}, {"a": {"$containedBy": []}}]})
        @example([{"o": {"k": 1}}, {"o": {"k": 2}}, {}], {"o.k": {"$ne": 1}})
        @example([{"s": "a\nb"}, {"s": "A"}], {"s": {"$regex": "^b", "$options": "m"}})
        def check(objs, where):
            trio.from_thread.run(one, objs, where)

        check()

    await trio.to_thread.run_sync(run_hypothesis)
