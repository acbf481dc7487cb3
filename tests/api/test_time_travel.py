"""Time travel on the read routes: `asOf` (a log position or a date), or the `X-Parse-As-Of`
header, answers a get or a find with every option as the class was at that moment, with the
caller's security applied to the objects as they were."""

from __future__ import annotations

import json

import pytest

from tests.api.users_helpers import User, master, signup

MISSING = "zzzzzzzzzz"


@pytest.fixture
def m(parsnip_server) -> dict[str, str]:
    return master(parsnip_server)


@pytest.fixture
def alice(api) -> User:
    return signup(api)


def _last_position(api, m, cls, oid) -> int:
    return api.get(f"/history/{cls}/{oid}", headers=m).json()["results"][-1]["position"]


def _as_of_ways(position: int, at: str) -> list[tuple[dict, dict]]:
    """(params, headers) asking for one moment: the position, the date, and the header."""
    return [({"asOf": position}, {}), ({"asOf": at}, {}), ({}, {"X-Parse-As-Of": str(position)}),
            ({}, {"X-Parse-As-Of": at})]


def test_get_as_of_a_position_or_a_date_or_by_header(api, m, class_name):
    r = api.post(f"/classes/{class_name}", headers=m, json={"score": 1})
    oid, created = r.json()["objectId"], r.json()["createdAt"]
    then = _last_position(api, m, class_name, oid)
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"score": 2})
    api.delete(f"/classes/{class_name}/{oid}", headers=m)
    assert api.get(f"/classes/{class_name}/{oid}", headers=m).status_code == 404
    for params, headers in _as_of_ways(then, created):
        r = api.get(f"/classes/{class_name}/{oid}", headers={**m, **headers}, params=params)
        assert r.status_code == 200, (params, headers, r.text)
        assert r.json()["score"] == 1 and r.json()["createdAt"] == created
    # Before the object existed: not found, as now.
    r = api.get(f"/classes/{class_name}/{oid}", headers=m, params={"asOf": then - 1})
    assert r.status_code == 404 and r.json()["code"] == 101


def test_find_as_of_with_every_option(api, m, class_name):
    target = class_name + "T"
    t = api.post(f"/classes/{target}", headers=m, json={"label": "old"}).json()["objectId"]
    ptr = {"__type": "Pointer", "className": target, "objectId": t}
    ids = [api.post(f"/classes/{class_name}", headers=m, json={"n": i, "tag": "a" if i % 2 else "b", "p": ptr}).json()["objectId"]
           for i in range(6)]
    then = _last_position(api, m, class_name, ids[-1])
    # Everything changes afterwards: values, a delete, a new object, the pointed-to object.
    for i, oid in enumerate(ids):
        api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": i + 100})
    api.delete(f"/classes/{class_name}/{ids[0]}", headers=m)
    api.post(f"/classes/{class_name}", headers=m, json={"n": 3, "tag": "a"})
    api.put(f"/classes/{target}/{t}", headers=m, json={"label": "new"})

    params = {"where": json.dumps({"n": {"$gte": 1, "$lt": 5}, "tag": {"$in": ["a", "b"]}}), "order": "-n",
              "limit": 2, "skip": 1, "keys": "n,p", "include": "p", "count": 1, "asOf": then}
    r = api.get(f"/classes/{class_name}", headers=m, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 4
    assert [o["n"] for o in body["results"]] == [3, 2]
    assert all("tag" not in o for o in body["results"])
    assert body["results"][0]["p"]["label"] == "old"  # included as of the same moment
    # Every operator family evaluates on the past state, the same SQL as a live read.
    for where, expected in [({"n": 0}, [0]), ({"n": {"$nin": [0, 1, 2]}}, [3, 4, 5]), ({"tag": {"$regex": "^a"}}, [1, 3, 5]),
                            ({"$or": [{"n": 1}, {"n": 4}]}, [1, 4]), ({"n": {"$exists": True}, "tag": "b"}, [0, 2, 4]),
                            ({"p": ptr, "n": {"$lte": 1}}, [0, 1])]:
        r = api.get(f"/classes/{class_name}", headers=m, params={"where": json.dumps(where), "order": "n", "asOf": then})
        assert [o["n"] for o in r.json()["results"]] == expected, where
    live = api.get(f"/classes/{class_name}", headers=m, params={"order": "n"}).json()["results"]
    assert [o["n"] for o in live] == [3, 101, 102, 103, 104, 105]


def test_a_client_sees_the_objects_as_their_acl_was(api, m, class_name, alice):
    public = api.post(f"/classes/{class_name}", headers=m, json={"k": "was-public"}).json()["objectId"]
    private = api.post(f"/classes/{class_name}", headers=m,
                       json={"k": "was-private", "ACL": {alice.id: {"read": True}}}).json()["objectId"]
    then = _last_position(api, m, class_name, private)
    api.put(f"/classes/{class_name}/{public}", headers=m, json={"ACL": {alice.id: {"read": True}}})
    api.put(f"/classes/{class_name}/{private}", headers=m, json={"ACL": {"*": {"read": True}}})
    found = api.get(f"/classes/{class_name}", params={"asOf": then, "count": 1}).json()
    assert [o["k"] for o in found["results"]] == ["was-public"] and found["count"] == 1
    assert api.get(f"/classes/{class_name}/{public}", params={"asOf": then}).status_code == 200
    hidden = api.get(f"/classes/{class_name}/{private}", params={"asOf": then})
    missing = api.get(f"/classes/{class_name}/{MISSING}", params={"asOf": then})
    assert hidden.status_code == missing.status_code == 404 and hidden.content == missing.content
    assert [o["k"] for o in api.get(f"/classes/{class_name}", headers=alice.headers,
                                    params={"asOf": then, "order": "k"}).json()["results"]] == ["was-private", "was-public"]


def test_a_deleted_field_shows_before_its_deletion_only(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"a": 1, "b": 2}).json()["objectId"]
    then = _last_position(api, m, class_name, oid)
    assert api.put(f"/schemas/{class_name}", headers=m,
                   json={"className": class_name, "fields": {"b": {"__op": "Delete"}}}).status_code == 200
    assert api.get(f"/classes/{class_name}/{oid}", headers=m, params={"asOf": then}).json()["b"] == 2
    head = api.get(f"/classes/{class_name}/{oid}", headers=m, params={"asOf": 2**62}).json()
    assert "b" not in head and head == api.get(f"/classes/{class_name}/{oid}", headers=m).json()


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5", "{}", "true", "2026-13-45T00:00:00Z", "9" * 30])
def test_a_bad_moment_is_a_parse_error(api, m, class_name, value):
    api.post(f"/classes/{class_name}", headers=m, json={"a": 1})
    for params, headers in (({"asOf": value}, {}), ({}, {"X-Parse-As-Of": value})):
        r = api.get(f"/classes/{class_name}", headers={**m, **headers}, params=params)
        assert r.status_code == 400 and r.json()["code"] == 102, r.text


def test_the_sdk_body_form_and_the_cors_list_carry_as_of(api, m, class_name, parsnip_server):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"a": 1}).json()["objectId"]
    then = _last_position(api, m, class_name, oid)
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"a": 2})
    body = {"_method": "GET", "_ApplicationId": parsnip_server.app_id, "_MasterKey": parsnip_server.master_key,
            "where": {"a": 1}}
    r = api.post(f"/classes/{class_name}", json=body, headers={"X-Parse-As-Of": str(then)})
    assert [o["objectId"] for o in r.json()["results"]] == [oid]
    assert "X-Parse-As-Of" in api.options(f"/classes/{class_name}").headers["access-control-allow-headers"]
