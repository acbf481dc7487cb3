"""Update operators (core/operations.py) and the values they carry (core/values.py): any body
is read into operations or refused with a ParseError; AddUnique and Remove compare as Parse
Server on PostgreSQL does (jsonb equality), in linear time."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsnip.core.commands import build_ops
from parsnip.core.errors import ParseError
from parsnip.core.operations import Op, apply, canonical, parse_op
from tests.hostile import HOSTILE


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), HOSTILE, max_size=4))
def test_any_body_is_operations_or_a_parse_error(body):
    try:
        ops, _ = build_ops("Thing", body)
    except ParseError:
        return
    for op in ops.values():  # what was accepted can be applied and recorded
        try:
            apply(op, None, False)
        except ParseError:
            pass
        json.dumps(op.to_json())


@pytest.mark.parametrize("objects, base, kind, expected", [
    ([True, 1.0, 1, {"b": 2, "a": 1}], [1, True], "AddUnique", [1, True, {"b": 2, "a": 1}]),
    ([1.0, {"a": 1, "b": 2}], [1, True, {"b": 2, "a": 1}], "Remove", [True]),  # Parse on PostgreSQL: [true]
    ([[0, 0]], [[0, False]], "AddUnique", [[0, False], [0, 0]]),
    ([None, "1"], [None, 1], "Remove", [1]),
    ([{"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}], [{"iso": "2020-01-01T00:00:00.000Z", "__type": "Date"}],
     "AddUnique", [{"iso": "2020-01-01T00:00:00.000Z", "__type": "Date"}]),
])
def test_add_unique_and_remove_use_jsonb_equality(objects, base, kind, expected):
    assert apply(Op(kind, objects), base, True) == (True, expected)


def _jsonb_equal(admin_dsn: str, pairs: list[tuple]) -> list[bool]:
    async def run() -> list[bool]:
        conn = await asyncpg.connect(admin_dsn)
        try:
            rows = await conn.fetch("SELECT a = b FROM unnest($1::jsonb[], $2::jsonb[]) AS t(a, b)",
                                    [json.dumps(a) for a, _ in pairs], [json.dumps(b) for _, b in pairs])
            return [r[0] for r in rows]
        finally:
            await conn.close()

    return asyncio.run(run())


_STORABLE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, -1.0, 2.5, 1e20]),
              st.sampled_from(["", "a", "1", "true"])),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from("abc"), c, max_size=3)),
    max_leaves=8,
)


def _variant(value):
    """The same JSON value written differently: keys reordered, integral floats as ints."""
    if isinstance(value, dict):
        return {k: _variant(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_variant(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@settings(max_examples=5, deadline=None)
@given(st.lists(st.one_of(st.tuples(_STORABLE, _STORABLE), _STORABLE.map(lambda v: (v, _variant(v)))),
                min_size=100, max_size=100))
def test_canonical_equality_is_postgresql_jsonb_equality(admin_dsn, pairs):
    """Against a real PostgreSQL: canonical(a) == canonical(b) exactly when a::jsonb = b::jsonb."""
    expected = _jsonb_equal(admin_dsn, pairs)
    assert [canonical(a) == canonical(b) for a, b in pairs] == expected


def test_add_unique_and_remove_are_linear():
    """40,000 pointers took 20 s when every pair was compared; one hash each is a fraction of a
    second (the bound leaves room for a loaded machine)."""
    objects = [{"__type": "Pointer", "className": "Thing", "objectId": f"o{i}"} for i in range(40_000)]
    op = parse_op({"__op": "AddUnique", "objects": objects})
    started = time.monotonic()
    _, added = apply(op, objects[:20_000], True)
    _, left = apply(Op("Remove", objects[:20_000]), added, True)
    assert time.monotonic() - started < 3
    assert added == objects and left == objects[20_000:]


@pytest.mark.parametrize("current, amount, expected", [
    (2**53, 2**53, 2**54),
    (2**63, 2**63, 2.0**64),  # past 64 bits a double, as JavaScript adds
    (1, 0.5, 1.5),
])
def test_increment_adds_as_javascript_does(current, amount, expected):
    _, got = apply(Op("Increment", amount), current, True)
    assert got == expected and type(got) is type(expected)


def test_an_increment_to_infinity_is_refused():
    with pytest.raises(ParseError) as e:
        apply(Op("Increment", 1e308), 1e308, True)
    assert e.value.code == ParseError.INCORRECT_TYPE
