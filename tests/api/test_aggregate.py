"""GET /aggregate: distinct and pipelines (MongoDB semantics, `_id` shown as objectId)."""

from __future__ import annotations

import json

import pytest

ROWS = [
    {"name": "a", "score": 1, "tags": ["x", "y"], "o": {"k": 1}},
    {"name": "a", "score": 3, "tags": ["y"], "o": {"k": 2}},
    {"name": "b", "score": 5, "tags": [], "o": {"k": 1}},
    {"name": "c", "tags": ["z"]},
]


@pytest.fixture
def agg(api, class_name, parsnip_server):
    for row in ROWS:
        assert api.post(f"/classes/{class_name}", json=row).status_code == 201
    master = {"X-Parse-Master-Key": parsnip_server.master_key}

    def run(**params):
        params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()}
        r = api.get(f"/aggregate/{class_name}", params=params, headers=master)
        return r.status_code, r.json()

    return run


def _strip_ids(results):
    return [{k: v for k, v in r.items() if k != "objectId"} for r in results]


def test_group_with_every_accumulator(agg):
    status, body = agg(pipeline=[{"$group": {
        "_id": "$name", "total": {"$sum": "$score"}, "n": {"$sum": 1}, "avg": {"$avg": "$score"},
        "mn": {"$min": "$score"}, "mx": {"$max": "$score"}, "all": {"$push": "$score"},
        "set": {"$addToSet": "$name"}, "f": {"$first": "$score"}, "l": {"$last": "$score"}}},
        {"$sort": {"_id": 1}}])
    assert status == 200
    a, b, c = body["results"]
    assert a == {"objectId": "a", "total": 4, "n": 2, "avg": 2, "mn": 1, "mx": 3, "all": [1, 3], "set": ["a"], "f": 1, "l": 3}
    assert b["objectId"] == "b" and b["total"] == 5
    assert c["objectId"] == "c" and c["total"] == 0 and c["avg"] is None and c["all"] == []


def test_group_by_null_and_by_compound_key(agg):
    assert agg(pipeline=[{"$group": {"_id": None, "total": {"$sum": "$score"}}}])[1]["results"] == [{"objectId": None, "total": 9}]
    results = agg(pipeline=[{"$group": {"_id": {"nm": "$name", "k": "$o.k"}, "n": {"$sum": 1}}}])[1]["results"]
    assert {(r["objectId"]["nm"], r["objectId"]["k"]) for r in results} == {("a", 1), ("a", 2), ("b", 1), ("c", None)}


def test_match_project_sort_skip_limit(agg):
    results = agg(pipeline=[{"$match": {"score": {"$gt": 1}}}, {"$project": {"name": 1, "score": 1}}])[1]["results"]
    assert sorted(_strip_ids(results), key=lambda r: r["score"]) == [{"name": "a", "score": 3}, {"name": "b", "score": 5}]
    results = agg(pipeline=[{"$sort": {"score": -1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"score": 1, "objectId": 0}}])[1]["results"]
    assert results == [{"score": 3}, {"score": 1}]


def test_match_after_group(agg):
    results = agg(pipeline=[{"$group": {"_id": "$name", "n": {"$sum": 1}}}, {"$match": {"n": {"$gt": 1}}}])[1]["results"]
    assert results == [{"objectId": "a", "n": 2}]


def test_unwind_and_count(agg):
    results = agg(pipeline=[{"$unwind": "$tags"}, {"$project": {"tags": 1, "objectId": 0}}])[1]["results"]
    assert sorted(r["tags"] for r in results) == ["x", "y", "y", "z"]
    assert agg(pipeline=[{"$count": "howmany"}])[1]["results"] == [{"howmany": 4}]


@pytest.mark.parametrize("field, where, expected", [
    ("name", None, ["a", "b", "c"]),
    ("tags", None, ["x", "y", "z"]),
    ("o.k", None, [1, 2]),
    ("name", {"score": {"$gte": 3}}, ["a", "b"]),
])
def test_distinct(agg, field, where, expected):
    params = {"distinct": field, **({"where": where} if where else {})}
    status, body = agg(**params)
    assert status == 200 and sorted(body["results"]) == expected


@pytest.mark.parametrize("pipeline, code", [
    ([{"$bogus": 1}], 102),
    ([{"$group": {"_id": "$name", "x": {"$bad": 1}}}], 102),
    ([{"$group": {"n": {"$sum": 1}}}], 102),
    ([{"$limit": -1}], 102),
    ([{"$sort": {"score": 2}}], 102),
    ([{"$project": {"a;b": 1}}], 105),
    ([{"$match": {"score": {"$foo": 1}}}], 102),
])
def test_bad_pipelines(agg, pipeline, code):
    status, body = agg(pipeline=pipeline)
    assert status == 400 and body["code"] == code, body


def test_aggregate_needs_the_master_key(api, agg, class_name):
    r = api.get(f"/aggregate/{class_name}", params={"distinct": "name"})
    assert r.status_code == 403 and r.json() == {"error": "Permission denied"}
