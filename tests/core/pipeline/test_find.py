"""The read pipeline's hooks: before-find may change the query, after-find the results."""

from __future__ import annotations

import dataclasses
import json

import pytest

from parsnip.core.commands import Create
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.query.ast import And, parse_where
from parsnip.projections.reader import FindOptions

MASTER = Context(master=True)


async def _seed(rt, class_name: str, *values: int) -> list[str]:
    results = await rt.write([Create(class_name, {"n": Op("Set", v)}) for v in values], MASTER)
    return [r.object_id for r in results]


def _ns(texts: list[str]) -> list[int]:
    return sorted(json.loads(t)["n"] for t in texts)


async def test_without_hooks_a_find_is_the_readers(runtime):
    await _seed(runtime, "Item", 1, 2, 3)
    texts, total = await runtime.find("Item", FindOptions(where=parse_where({"n": {"$gt": 1}}), count=True))
    assert _ns(texts) == [2, 3] and total == 2


async def test_before_find_changes_the_query(runtime):
    await _seed(runtime, "Item", 1, 2, 3, 4)
    seen = []

    @runtime.hooks.before_find("Item")
    async def only_even(req):
        seen.append(req.is_get)
        req.query = dataclasses.replace(req.query, where=And((req.query.where, parse_where({"n": {"$in": [2, 4]}}))),
                                        limit=1, order="-n")

    texts, _ = await runtime.find("Item", FindOptions(where=parse_where({"n": {"$gt": 1}})))
    assert _ns(texts) == [4]
    assert seen == [False]


async def test_after_find_changes_the_results(runtime):
    ids = await _seed(runtime, "Item", 1, 2, 3)

    @runtime.hooks.after_find("Item")
    async def redact(req):
        req.objects = [{**o, "n": o["n"] * 10, "seen": True} for o in req.objects if o["n"] != 2]

    texts, _ = await runtime.find("Item", FindOptions())
    assert _ns(texts) == [10, 30]
    assert all(json.loads(t)["seen"] is True for t in texts)
    text = await runtime.get("Item", ids[0], FindOptions())
    assert json.loads(text)["n"] == 10
    assert await runtime.get("Item", ids[1], FindOptions()) is None  # dropped: not found


async def test_a_get_runs_the_find_hooks_as_a_get(runtime):
    [oid] = await _seed(runtime, "Item", 5)
    seen = []

    @runtime.hooks.before_find("Item")
    async def look(req):
        seen.append(req.is_get)

    assert json.loads(await runtime.get("Item", oid, FindOptions()))["n"] == 5
    assert seen == [True]


async def test_a_before_find_refusal_is_the_answer(runtime):
    await _seed(runtime, "Item", 1)

    @runtime.hooks.before_find("Item")
    async def refuse(req):
        raise ValueError("not today")

    with pytest.raises(ParseError) as caught:
        await runtime.find("Item", FindOptions())
    assert (caught.value.code, caught.value.message) == (ParseError.SCRIPT_FAILED, "not today")
