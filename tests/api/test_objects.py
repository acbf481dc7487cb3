"""The REST objects API as a Parse client sees it, checked against what Parse Server 9.10 answers.

Each expectation here was checked against a real Parse Server (see the probe notes in the
project's docs); where Parsnip deliberately answers better than Parse (a clean 4xx where Parse
gives a 500), the test says so.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
OBJECT_ID = re.compile(r"^[A-Za-z0-9]{10}$")

CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET,PUT,POST,DELETE,OPTIONS",
    "access-control-allow-headers": (
        "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
        "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
        "X-Parse-Request-Id, X-Parse-As-Of, Last-Event-ID, Content-Type, Pragma, Cache-Control"
    ),
    "access-control-expose-headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
}


def create(api: httpx.Client, cls: str, body: dict) -> dict:
    r = api.post(f"/classes/{cls}", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def get(api: httpx.Client, cls: str, oid: str) -> dict:
    r = api.get(f"/classes/{cls}/{oid}")
    assert r.status_code == 200, r.text
    return r.json()


def find(api: httpx.Client, cls: str, **params) -> dict:
    q = {k: json.dumps(v) if k == "where" else v for k, v in params.items()}
    r = api.get(f"/classes/{cls}", params=q)
    assert r.status_code == 200, r.text
    return r.json()


def assert_json(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("application/json"), r.headers.get("content-type")


# -- create ---------------------------------------------------------------------------------------


def test_create_answers_201_with_location_and_id(api, parsnip_server, class_name):
    r = api.post(f"/classes/{class_name}", json={"score": 1337, "playerName": "Sean Plott", "cheatMode": False})
    assert r.status_code == 201
    assert_json(r)
    body = r.json()
    assert list(body) == ["objectId", "createdAt"]
    assert OBJECT_ID.match(body["objectId"])
    assert ISO.match(body["createdAt"])
    assert r.headers["location"] == f"{parsnip_server.url}/classes/{class_name}/{body['objectId']}"


def test_create_ids_are_unique(api, class_name):
    ids = {create(api, class_name, {"n": i})["objectId"] for i in range(20)}
    assert len(ids) == 20


def test_create_echoes_op_results_first(api, class_name):
    body = create(api, class_name, {
        "score": {"__op": "Increment", "amount": 5},
        "arr": {"__op": "Add", "objects": [1, 2]},
        "arr2": {"__op": "AddUnique", "objects": [1, 2]},
        "arr3": {"__op": "Remove", "objects": [1]},
        "gone": {"__op": "Delete"},
        "plain": "not echoed",
    })
    assert list(body) == ["score", "arr", "arr2", "arr3", "objectId", "createdAt"]
    assert body["score"] == 5 and body["arr"] == [1, 2] and body["arr2"] == [1, 2] and body["arr3"] == []
    stored = get(api, class_name, body["objectId"])
    assert stored["score"] == 5 and stored["plain"] == "not echoed" and "gone" not in stored


@pytest.mark.xfail(reason="core/operations.py: AddUnique on a new field de-duplicates its own objects; "
                   "Parse Server keeps them on create ([1,1] stays [1,1])", strict=True)
def test_create_add_unique_keeps_duplicates_like_parse(api, class_name):
    body = create(api, class_name, {"arr2": {"__op": "AddUnique", "objects": [1, 1]}})
    assert body["arr2"] == [1, 1]


def test_create_with_empty_body_creates_an_empty_object(api, class_name):
    r = api.post(f"/classes/{class_name}", content=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert set(get(api, class_name, r.json()["objectId"])) == {"objectId", "createdAt", "updatedAt"}


def test_create_ignores_created_at_and_updated_at_dates_in_body(api, class_name):
    old = {"__type": "Date", "iso": "2001-01-01T00:00:00.000Z"}
    body = create(api, class_name, {"createdAt": old, "updatedAt": old, "score": 3})
    stored = get(api, class_name, body["objectId"])
    assert stored["createdAt"] == body["createdAt"] != "2001-01-01T00:00:00.000Z"


# -- get --------------------------------------------------------------------------------------------


def test_get_shape_without_acl(api, class_name):
    made = create(api, class_name, {"score": 1, "name": "a"})
    r = api.get(f"/classes/{class_name}/{made['objectId']}")
    assert r.status_code == 200
    assert_json(r)
    body = r.json()
    # Key order is not kept (the objects are built as jsonb); Parse gives objectId, createdAt, updatedAt first.
    assert set(body) == {"objectId", "createdAt", "updatedAt", "score", "name"}
    assert body["objectId"] == made["objectId"]
    assert body["createdAt"] == body["updatedAt"] == made["createdAt"]


def test_get_shape_with_acl(api, class_name):
    acl = {"*": {"read": True}}
    made = create(api, class_name, {"score": 1, "ACL": acl})
    body = get(api, class_name, made["objectId"])
    assert body["ACL"] == acl


def test_get_with_keys(api, class_name):
    made = create(api, class_name, {"score": 1, "name": "a"})
    r = api.get(f"/classes/{class_name}/{made['objectId']}", params={"keys": "score"})
    assert r.status_code == 200
    assert set(r.json()) == {"objectId", "createdAt", "updatedAt", "score"}


@pytest.mark.parametrize("existing_class", [True, False], ids=["missing-object", "missing-class"])
def test_get_missing_is_404_101(api, class_name, existing_class):
    if existing_class:
        create(api, class_name, {"score": 1})
    r = api.get(f"/classes/{class_name}/doesNotExist1")
    assert r.status_code == 404
    assert_json(r)
    assert r.json() == {"code": 101, "error": "Object not found."}


# -- update -------------------------------------------------------------------------------------------

UPDATES = [
    # (body, echoed fields, fields after the update (None: field absent))
    ({"score": {"__op": "Increment", "amount": 1}}, {"score": 11}, {"score": 11}),
    ({"score": {"__op": "Increment", "amount": -5}}, {"score": 5}, {"score": 5}),
    ({"ratio": {"__op": "Increment", "amount": 0.25}}, {"ratio": 1.75}, {"ratio": 1.75}),
    ({"counter": {"__op": "Increment", "amount": 3}}, {"counter": 3}, {"counter": 3}),
    ({"tags": {"__op": "Add", "objects": ["a", "b"]}}, {"tags": ["x", "y", "a", "b"]}, {"tags": ["x", "y", "a", "b"]}),
    ({"tags": {"__op": "AddUnique", "objects": ["x", "c"]}}, {"tags": ["x", "y", "c"]}, {"tags": ["x", "y", "c"]}),
    ({"tags": {"__op": "Remove", "objects": ["x"]}}, {"tags": ["y"]}, {"tags": ["y"]}),
    ({"skills": {"__op": "Add", "objects": ["flying"]}}, {"skills": ["flying"]}, {"skills": ["flying"]}),
    ({"name": "New Name"}, {}, {"name": "New Name"}),
    ({"name": {"__op": "Delete"}}, {}, {"name": None}),
    ({"score": {"__op": "Increment", "amount": 1}, "name": "X", "tags": {"__op": "Add", "objects": [1]}},
     {"score": 11, "tags": ["x", "y", 1]}, {"score": 11, "name": "X", "tags": ["x", "y", 1]}),
    ({}, {}, {"score": 10, "name": "seed"}),
]


@pytest.mark.parametrize("body,echoed,after", UPDATES, ids=[
    "increment", "increment-negative", "increment-float", "increment-new-field", "add", "add-unique",
    "remove", "add-new-field", "set", "delete-op", "mixed", "empty",
])
def test_update(api, class_name, body, echoed, after):
    made = create(api, class_name, {"score": 10, "name": "seed", "tags": ["x", "y"], "ratio": 1.5})
    r = api.put(f"/classes/{class_name}/{made['objectId']}", json=body)
    assert r.status_code == 200, r.text
    assert_json(r)
    answer = r.json()
    assert list(answer) == [*echoed, "updatedAt"]
    assert {k: v for k, v in answer.items() if k != "updatedAt"} == echoed
    assert ISO.match(answer["updatedAt"]) and answer["updatedAt"] >= made["createdAt"]
    stored = get(api, class_name, made["objectId"])
    assert stored["updatedAt"] == answer["updatedAt"]
    assert stored["createdAt"] == made["createdAt"]
    for field, value in after.items():
        if value is None:
            assert field not in stored
        else:
            assert stored[field] == value


def test_update_missing_is_404_101(api, class_name):
    create(api, class_name, {"score": 1})
    r = api.put(f"/classes/{class_name}/nonExistentId", json={"score": 2})
    assert r.status_code == 404
    assert r.json() == {"code": 101, "error": "Object not found."}


def test_update_on_missing_class_is_404_101(api, class_name):
    r = api.put(f"/classes/{class_name}/abc", json={"x": 1})
    assert r.status_code == 404
    assert r.json() == {"code": 101, "error": "Object not found."}


# -- delete --------------------------------------------------------------------------------------------


def test_delete_then_again(api, class_name):
    made = create(api, class_name, {"score": 1})
    r = api.delete(f"/classes/{class_name}/{made['objectId']}")
    assert r.status_code == 200
    assert_json(r)
    assert r.json() == {}
    assert api.get(f"/classes/{class_name}/{made['objectId']}").status_code == 404
    r = api.delete(f"/classes/{class_name}/{made['objectId']}")
    assert r.status_code == 404
    assert r.json() == {"code": 101, "error": "Object not found for delete."}
    assert find(api, class_name, count=1, limit=0) == {"results": [], "count": 0}


def test_delete_on_missing_class(api, class_name):
    r = api.delete(f"/classes/{class_name}/abc")
    assert r.status_code == 404
    assert r.json() == {"code": 101, "error": "Object not found for delete."}


# -- field types ------------------------------------------------------------------------------------------

OBJ = {"a": 1, "b": {"c": [1, "x", None]}, "d": None}
ARR = [1, "two", {"three": 3}, [4], None, True]
TYPES = [
    ("date", {"__type": "Date", "iso": "2020-01-02T03:04:05.678Z"}, None),
    ("pointer", {"__type": "Pointer", "className": "GameScore", "objectId": "9Axy4nS650"}, None),
    ("geopoint", {"__type": "GeoPoint", "latitude": 40.0, "longitude": -30.0}, None),
    ("geopoint-edges", {"__type": "GeoPoint", "latitude": -90, "longitude": 180}, None),
    ("polygon-open", {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0]]},
     {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]}),
    ("polygon-closed", {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [0, 0]]}, None),
    ("bytes", {"__type": "Bytes", "base64": "aGVsbG8="}, None),
    ("object", OBJ, None),
    ("array", ARR, None),
    ("true", True, None),
    ("false", False, None),
    ("int", 7, None),
    ("float", 1.5, None),
    ("string", "hello ünïcødé ✓", None),
    ("empty-string", "", None),
]


@pytest.mark.parametrize("value,expected", [(v, e) for _, v, e in TYPES], ids=[t[0] for t in TYPES])
def test_field_type_round_trip(api, class_name, value, expected):
    expected = value if expected is None else expected
    made = create(api, class_name, {"v": value})
    assert get(api, class_name, made["objectId"])["v"] == expected
    [found] = find(api, class_name)["results"]
    assert found["v"] == expected


def test_file_url_is_made_from_server_url(api, parsnip_server, class_name):
    made = create(api, class_name, {"file": {"__type": "File", "name": "a.txt", "url": "http://x/a.txt"}})
    expected = {"__type": "File", "name": "a.txt", "url": f"{parsnip_server.url}/files/{parsnip_server.app_id}/a.txt"}
    assert get(api, class_name, made["objectId"])["file"] == expected
    assert find(api, class_name)["results"][0]["file"] == expected
    assert find(api, class_name, keys="file")["results"][0]["file"] == expected


def test_date_without_millis_comes_back_normalised(api, class_name):
    made = create(api, class_name, {"d": {"__type": "Date", "iso": "2020-01-02T03:04:05Z"}})
    assert get(api, class_name, made["objectId"])["d"] == {"__type": "Date", "iso": "2020-01-02T03:04:05.000Z"}


def test_null_on_create_is_not_stored(api, class_name):
    made = create(api, class_name, {"nul": None, "k": 1})
    assert "nul" not in get(api, class_name, made["objectId"])


def test_null_set_on_update_round_trips(api, class_name):
    made = create(api, class_name, {"k": 1, "s": "x"})
    r = api.put(f"/classes/{class_name}/{made['objectId']}", json={"s": None})
    assert r.status_code == 200
    assert get(api, class_name, made["objectId"]).get("s") is None


def test_typed_values_nested_in_objects_and_arrays(api, class_name):
    date = {"__type": "Date", "iso": "2020-01-02T03:04:05.678Z"}
    ptr = {"__type": "Pointer", "className": "Other", "objectId": "abc"}
    made = create(api, class_name, {"o": {"when": date, "who": ptr}, "a": [date, ptr]})
    stored = get(api, class_name, made["objectId"])
    assert stored["o"] == {"when": date, "who": ptr}
    assert stored["a"] == [date, ptr]


# -- queries ------------------------------------------------------------------------------------------------


@pytest.fixture
def scores(api, class_name) -> str:
    """Five objects: score 0..4, name p0..p4, tags [tN, all], group a (0-2) / b (3-4), `opt` on even scores."""
    requests = []
    for i in range(5):
        body = {"score": i, "name": f"p{i}", "tags": [f"t{i}", "all"], "group": "a" if i < 3 else "b"}
        if i % 2 == 0:
            body["opt"] = i
        requests.append({"method": "POST", "path": f"/parse/classes/{class_name}", "body": body})
    r = api.post("/batch", json={"requests": requests})
    assert r.status_code == 200 and all("success" in x for x in r.json()), r.text
    return class_name


WHERES = [
    ("equal", {"score": 2}, [2]),
    ("equal-string", {"name": "p3"}, [3]),
    ("eq", {"score": {"$eq": 2}}, [2]),
    ("lt", {"score": {"$lt": 2}}, [0, 1]),
    ("lte", {"score": {"$lte": 2}}, [0, 1, 2]),
    ("gt", {"score": {"$gt": 2}}, [3, 4]),
    ("gte", {"score": {"$gte": 2}}, [2, 3, 4]),
    ("range", {"score": {"$gt": 0, "$lt": 3}}, [1, 2]),
    ("ne", {"score": {"$ne": 2}}, [0, 1, 3, 4]),
    ("in", {"score": {"$in": [1, 3, 99]}}, [1, 3]),
    ("in-empty", {"score": {"$in": []}}, []),
    ("nin", {"score": {"$nin": [1, 3]}}, [0, 2, 4]),
    ("exists-true", {"opt": {"$exists": True}}, [0, 2, 4]),
    ("exists-false", {"opt": {"$exists": False}}, [1, 3]),
    ("exists-false-unknown", {"nosuch": {"$exists": False}}, [0, 1, 2, 3, 4]),
    ("unknown-field", {"nosuch": 1}, []),
    ("string-lt", {"name": {"$lt": "p2"}}, [0, 1]),
    ("array-contains", {"tags": "t2"}, [2]),
    ("array-in", {"tags": {"$in": ["t1", "t4"]}}, [1, 4]),
    ("or", {"$or": [{"score": 0}, {"score": 4}]}, [0, 4]),
    ("and", {"$and": [{"score": {"$gt": 0}}, {"score": {"$lt": 3}}]}, [1, 2]),
    ("or-and-field", {"group": "a", "$or": [{"score": 0}, {"score": 4}, {"name": "p2"}]}, [0, 2]),
    ("nested-or-and", {"$or": [{"$and": [{"group": "b"}, {"score": {"$lt": 4}}]}, {"score": 0}]}, [0, 3]),
    ("created-at-gt-date", {"createdAt": {"$gt": {"__type": "Date", "iso": "2000-01-01T00:00:00.000Z"}}},
     [0, 1, 2, 3, 4]),
    ("created-at-lt-string", {"createdAt": {"$lt": "2000-01-01T00:00:00.000Z"}}, []),
]


@pytest.mark.parametrize("where,expected", [(w, e) for _, w, e in WHERES], ids=[w[0] for w in WHERES])
def test_where(api, scores, where, expected):
    body = find(api, scores, where=where, order="score", keys="score")
    assert [o["score"] for o in body["results"]] == expected


def test_where_object_id(api, scores):
    all_ = find(api, scores, order="score")["results"]
    body = find(api, scores, where={"objectId": {"$in": [all_[1]["objectId"], all_[3]["objectId"]]}}, order="score")
    assert [o["score"] for o in body["results"]] == [1, 3]
    body = find(api, scores, where={"objectId": all_[2]["objectId"]})
    assert [o["score"] for o in body["results"]] == [2]


ORDERS = [
    ("score", [0, 1, 2, 3, 4]),
    ("-score", [4, 3, 2, 1, 0]),
    ("-group,score", [3, 4, 0, 1, 2]),
    ("group,-score", [2, 1, 0, 4, 3]),
    ("-name", [4, 3, 2, 1, 0]),
    ("createdAt", [0, 1, 2, 3, 4]),
]


@pytest.mark.parametrize("order,expected", ORDERS, ids=[o for o, _ in ORDERS])
def test_order(api, scores, order, expected):
    if order == "createdAt":  # the batch commits together: creation times may tie, so compare to them
        results = find(api, scores, order="createdAt,objectId")["results"]
        assert [r["createdAt"] for r in results] == sorted(r["createdAt"] for r in results)
        return
    assert [o["score"] for o in find(api, scores, order=order)["results"]] == expected


@pytest.mark.parametrize("params,expected", [
    ({"limit": 2}, [0, 1]),
    ({"skip": 2, "limit": 2}, [2, 3]),
    ({"skip": 4}, [4]),
    ({"skip": 10}, []),
    ({"limit": 0}, []),
    ({"limit": "2"}, [0, 1]),
], ids=["limit", "skip-limit", "skip", "skip-past-end", "limit-0", "limit-string"])
def test_limit_skip(api, scores, params, expected):
    body = find(api, scores, order="score", **params)
    assert body == {"results": body["results"]}  # no count unless asked
    assert [o["score"] for o in body["results"]] == expected


def test_limit_defaults_to_100(api, class_name):
    requests = [{"method": "POST", "path": f"/parse/classes/{class_name}", "body": {"i": i}} for i in range(105)]
    r = api.post("/batch", json={"requests": requests})
    assert r.status_code == 200 and all("success" in x for x in r.json())
    assert len(find(api, class_name)["results"]) == 100
    assert len(find(api, class_name, limit=1000)["results"]) == 105
    assert find(api, class_name, count=1, limit=0)["count"] == 105


@pytest.mark.parametrize("keys,expected", [
    ("score", {"score"}),
    ("score,name", {"score", "name"}),
    ("score,nosuch", {"score"}),
    ("", set()),
], ids=["one", "two", "unknown", "empty"])
def test_keys(api, scores, keys, expected):
    for obj in find(api, scores, keys=keys)["results"]:
        assert set(obj) == {"objectId", "createdAt", "updatedAt", *expected}


@pytest.mark.parametrize("params,n_results,count", [
    ({"count": 1}, 5, 5),
    ({"count": "true"}, 5, 5),
    ({"count": 1, "limit": 0}, 0, 5),
    ({"count": 1, "limit": 1}, 1, 5),
    ({"count": 1, "where": {"score": {"$gte": 3}}}, 2, 2),
    ({"count": 1, "limit": 0, "where": {"score": {"$gte": 3}}}, 0, 2),
    ({"count": "abc", "limit": 0}, 0, 5),  # Parse: any value that is truthy once read as JSON
], ids=["count", "count-true", "count-limit-0", "count-limit-1", "count-where", "count-where-limit-0", "count-abc"])
def test_count(api, scores, params, n_results, count):
    body = find(api, scores, **params)
    assert list(body) == ["results", "count"]
    assert len(body["results"]) == n_results
    assert body["count"] == count


@pytest.mark.parametrize("count", ["0", "false", ""])
def test_falsy_count_gives_no_count(api, scores, count):
    assert find(api, scores, count=count, limit=0) == {"results": []}


def test_head_is_a_get_without_body(api, scores):
    r = api.head(f"/classes/{scores}")
    assert r.status_code == 200
    assert r.content == b""


@pytest.mark.parametrize("params,expected", [
    ({}, {"results": []}),
    ({"count": 1, "limit": 0}, {"results": [], "count": 0}),
    ({"where": {"x": 1}, "order": "-y"}, {"results": []}),
], ids=["find", "count", "where-order"])
def test_query_on_missing_class_is_empty(api, class_name, params, expected):
    assert find(api, class_name, **params) == expected


def test_trailing_slash_on_class(api, scores):
    r = api.get(f"/classes/{scores}/", params={"count": 1, "limit": 0})
    assert r.status_code == 200 and r.json()["count"] == 5


# -- batch -----------------------------------------------------------------------------------------------------


def _seed(api, cls, n):
    return [create(api, cls, {"n": i + 1})["objectId"] for i in range(n)]


def test_batch_mixed_ops_each_succeed_or_fail_alone(api, class_name):
    a, b, c = _seed(api, class_name, 3)
    p = f"/parse/classes/{class_name}"
    r = api.post("/batch", json={"requests": [
        {"method": "POST", "path": p, "body": {"n": 10}},
        {"method": "PUT", "path": f"{p}/{a}", "body": {"n": {"__op": "Increment", "amount": 5}}},
        {"method": "DELETE", "path": f"{p}/{b}"},
        {"method": "PUT", "path": f"{p}/{c}", "body": {"n": "notanumber"}},
        {"method": "PUT", "path": f"{p}/missingId1", "body": {"n": 1}},
        {"method": "GET", "path": f"{p}/{c}"},
        {"method": "PUT", "path": f"{p}/{c}", "body": {"m": "x"}},
    ]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out) == 7
    assert list(out[0]["success"]) == ["objectId", "createdAt"]
    assert OBJECT_ID.match(out[0]["success"]["objectId"])
    assert out[1]["success"]["n"] == 6 and ISO.match(out[1]["success"]["updatedAt"])
    assert out[2] == {"success": {}}
    assert out[3] == {"error": {"code": 111, "error": f"schema mismatch for {class_name}.n; expected Number but got String"}}
    assert out[4] == {"error": {"code": 101, "error": "Object not found."}}
    assert out[5]["success"]["objectId"] == c and out[5]["success"]["n"] == 3
    assert list(out[6]["success"]) == ["updatedAt"]
    state = {o["objectId"]: o for o in find(api, class_name, order="n")["results"]}
    assert [o["n"] for o in state.values()] == [3, 6, 10]
    assert state[c]["m"] == "x" and b not in state


def test_batch_all_failing_is_still_200(api, class_name):
    _seed(api, class_name, 1)
    p = f"/parse/classes/{class_name}"
    r = api.post("/batch", json={"requests": [
        {"method": "POST", "path": p, "body": {"1bad": 1}},
        {"method": "DELETE", "path": f"{p}/nope"},
    ]})
    assert r.status_code == 200
    assert r.json() == [{"error": {"code": 105, "error": "Invalid field name: 1bad."}},
                        {"error": {"code": 101, "error": "Object not found for delete."}}]


def test_batch_get_query_takes_options_from_body(api, scores):
    r = api.post("/batch", json={"requests": [
        {"method": "GET", "path": f"/parse/classes/{scores}", "body": {"limit": 1, "order": "score", "keys": "score", "count": 1}},
    ]})
    assert r.status_code == 200
    [item] = r.json()
    assert [o["score"] for o in item["success"]["results"]] == [0]
    assert item["success"]["count"] == 5


def test_batch_get_with_unknown_option_fails_alone(api, scores):
    r = api.post("/batch", json={"requests": [
        {"method": "GET", "path": f"/parse/classes/{scores}", "body": {"foo": 1}},
        {"method": "GET", "path": f"/parse/classes/{scores}", "body": {"limit": 1}},
    ]})
    assert r.status_code == 200
    out = r.json()
    assert out[0] == {"error": {"code": 102, "error": "Invalid parameter for query: foo"}}
    assert len(out[1]["success"]["results"]) == 1


def test_batch_empty(api):
    r = api.post("/batch", json={"requests": []})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize("path", ["/classes/{cls}", "/other/classes/{cls}", "http://127.0.0.1:1337/parse/classes/{cls}"],
                         ids=["no-prefix", "wrong-prefix", "full-url"])
def test_batch_path_needs_mount_prefix(api, class_name, path):
    _seed(api, class_name, 1)
    path = path.format(cls=class_name)
    r = api.post("/batch", json={"requests": [
        {"method": "POST", "path": f"/parse/classes/{class_name}", "body": {"n": 10}},
        {"method": "POST", "path": path, "body": {"n": 11}},
    ]})
    assert r.status_code == 400
    assert r.json() == {"code": 107, "error": f"cannot route batch path {path}"}
    assert find(api, class_name, count=1, limit=0)["count"] == 1  # nothing ran


def test_batch_unknown_route(api, class_name):
    r = api.post("/batch", json={"requests": [{"method": "POST", "path": "/parse/nothere", "body": {}}]})
    assert r.status_code == 400
    assert r.json() == {"code": 107, "error": "cannot route POST /nothere"}


def test_batch_transaction_all_succeed(api, class_name):
    [a] = _seed(api, class_name, 1)
    p = f"/parse/classes/{class_name}"
    r = api.post("/batch", json={"transaction": True, "requests": [
        {"method": "POST", "path": p, "body": {"n": 200}},
        {"method": "PUT", "path": f"{p}/{a}", "body": {"n": {"__op": "Increment", "amount": 1}}},
    ]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert list(out[0]["success"]) == ["objectId", "createdAt"]
    assert out[1]["success"]["n"] == 2
    assert [o["n"] for o in find(api, class_name, order="n")["results"]] == [2, 200]


def test_batch_transaction_one_failure_writes_nothing(api, class_name):
    a, b, c = _seed(api, class_name, 3)
    before = find(api, class_name, order="n")
    p = f"/parse/classes/{class_name}"
    r = api.post("/batch", json={"transaction": True, "requests": [
        {"method": "POST", "path": p, "body": {"n": 100}},
        {"method": "PUT", "path": f"{p}/{a}", "body": {"n": {"__op": "Increment", "amount": 1000}}},
        {"method": "DELETE", "path": f"{p}/{b}"},
        {"method": "PUT", "path": f"{p}/{c}", "body": {"n": "notanumber"}},
        {"method": "POST", "path": p, "body": {"n": 101, "brandNew": 1}},
    ]})
    # Parse Server answers 500 {"code":1,"message":"Internal server error."}; Parsnip names the failure.
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["code"] == 111
    assert find(api, class_name, order="n") == before
    assert find(api, class_name, where={"brandNew": {"$exists": True}}) == {"results": []}


def test_batch_in_text_plain_sdk_form(parsnip_server, class_name):
    body = {"_ApplicationId": parsnip_server.app_id,
            "requests": [{"method": "POST", "path": f"/parse/classes/{class_name}", "body": {"n": 50}}]}
    r = httpx.post(parsnip_server.url + "/batch", content=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200
    assert OBJECT_ID.match(r.json()[0]["success"]["objectId"])


# -- the JS SDK's body form ----------------------------------------------------------------------------------------


def sdk(server, path: str, body: dict) -> httpx.Response:
    """POST as the JS SDK does: text/plain, keys in the body, no X-Parse-* headers."""
    return httpx.post(server.url + path, content=json.dumps(body), headers={"Content-Type": "text/plain"})


def test_sdk_form_crud(parsnip_server, api, class_name):
    app = parsnip_server.app_id
    r = sdk(parsnip_server, f"/classes/{class_name}",
            {"_ApplicationId": app, "score": 42, "_ClientVersion": "js5.0.0", "_InstallationId": "inst-123"})
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    assert set(get(api, class_name, oid)) == {"objectId", "createdAt", "updatedAt", "score"}  # no key leaked

    r = sdk(parsnip_server, f"/classes/{class_name}/{oid}",
            {"_method": "PUT", "_ApplicationId": app, "score": {"__op": "Increment", "amount": 1}})
    assert r.status_code == 200 and r.json()["score"] == 43

    r = sdk(parsnip_server, f"/classes/{class_name}/{oid}", {"_method": "GET", "_ApplicationId": app})
    assert r.status_code == 200 and r.json()["score"] == 43 and r.json()["objectId"] == oid

    r = sdk(parsnip_server, f"/classes/{class_name}", {"_method": "GET", "_ApplicationId": app,
                                                        "where": {"score": {"$gte": 3}}, "keys": "score"})
    assert r.status_code == 200 and [o["score"] for o in r.json()["results"]] == [43]

    r = sdk(parsnip_server, f"/classes/{class_name}", {"_method": "GET", "_ApplicationId": app,
                                                        "where": json.dumps({"score": 43}), "count": 1, "limit": 0})
    assert r.status_code == 200 and r.json() == {"results": [], "count": 1}

    r = sdk(parsnip_server, f"/classes/{class_name}/{oid}", {"_method": "DELETE", "_ApplicationId": app})
    assert r.status_code == 200 and r.json() == {}
    assert api.get(f"/classes/{class_name}/{oid}").status_code == 404


def test_sdk_form_master_key(parsnip_server):
    base = {"_method": "GET", "_ApplicationId": parsnip_server.app_id}
    r = sdk(parsnip_server, "/serverInfo", {**base, "_MasterKey": parsnip_server.master_key})
    assert r.status_code == 200 and "parseServerVersion" in r.json()
    r = sdk(parsnip_server, "/serverInfo", {**base, "_MasterKey": "wrong"})
    assert r.status_code == 403 and r.json() == {"error": "Permission denied"}


def test_sdk_form_method_in_json_body(api, scores):
    r = api.post(f"/classes/{scores}", json={"_method": "GET", "limit": 1, "order": "score", "keys": "score"})
    assert r.status_code == 200 and [o["score"] for o in r.json()["results"]] == [0]


@pytest.mark.parametrize("body", [{"_method": "GET", "_ApplicationId": "WRONG"}, {"_method": "GET", "limit": 1}],
                         ids=["wrong-app-id", "no-app-id"])
def test_sdk_form_unauthorized(parsnip_server, class_name, body):
    r = sdk(parsnip_server, f"/classes/{class_name}", body)
    assert r.status_code == 403 and r.json() == {"error": "unauthorized"}


# -- CORS, health, serverInfo -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,headers", [
    ("/classes/Anything", {"Origin": "http://example.com", "Access-Control-Request-Method": "POST",
                           "Access-Control-Request-Headers": "X-Parse-Application-Id, Content-Type, X-Custom"}),
    ("/classes/Anything", {}),
    ("/nothere", {"Origin": "http://example.com", "Access-Control-Request-Method": "GET"}),
], ids=["preflight", "no-origin", "unknown-route"])
def test_cors_preflight(parsnip_server, path, headers):
    r = httpx.options(parsnip_server.url + path, headers=headers)
    assert r.status_code == 200
    assert r.text == "OK"
    assert r.headers["content-type"].startswith("text/plain")
    for name, value in CORS.items():
        assert r.headers[name] == value


def test_cors_headers_on_every_response(api, parsnip_server, class_name):
    made = api.post(f"/classes/{class_name}", json={"a": 1}, headers={"Origin": "http://example.com"})
    responses = [
        made,
        api.get(f"/classes/{class_name}", headers={"Origin": "http://example.com"}),
        api.get(f"/classes/{class_name}/missing"),
        api.post(f"/classes/{class_name}", json={"1bad": 1}),
        httpx.get(parsnip_server.url + f"/classes/{class_name}", headers={"Origin": "http://example.com"}),  # 403
        api.get("/serverInfo"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 404, 400, 403, 403]
    for r in responses:
        for name, value in CORS.items():
            assert r.headers[name] == value, (r.request.url, name)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_health_needs_no_app_id(parsnip_server, method):
    r = httpx.request(method, parsnip_server.url + "/health")
    assert r.status_code == 200
    assert_json(r)
    assert r.json() == {"status": "ok"}


def test_server_info_needs_master_key(api, parsnip_server):
    r = api.get("/serverInfo")
    assert r.status_code == 403 and r.json() == {"error": "Permission denied"}
    r = api.get("/serverInfo", headers={"X-Parse-Master-Key": "wrong"})
    assert r.status_code == 403 and r.json() == {"error": "Permission denied"}
    r = api.get("/serverInfo", headers={"X-Parse-Master-Key": parsnip_server.master_key})
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body["parseServerVersion"], str)
    assert set(body["features"]) >= {"globalConfig", "hooks", "cloudCode", "logs", "push", "schemas"}
