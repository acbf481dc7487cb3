"""GET /history/{className}/{objectId}: every version of an object, oldest first, with who, when
and how; a client sees only the versions it could have read, and nothing of an object it never
could (the very answer a missing object gets)."""

from __future__ import annotations

import json
import re

import pytest

from tests.api.users_helpers import User, master, signup

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MISSING = "zzzzzzzzzz"


def _history(api, headers, cls, oid, **params):
    return api.get(f"/history/{cls}/{oid}", headers=headers, params=params)


def _entries(api, headers, cls, oid, **params) -> list[dict]:
    r = _history(api, headers, cls, oid, **params)
    assert r.status_code == 200, r.text
    return r.json()["results"]


@pytest.fixture
def m(parsnip_server) -> dict[str, str]:
    return master(parsnip_server)


@pytest.fixture
def alice(api) -> User:
    return signup(api)


@pytest.fixture
def bob(api) -> User:
    return signup(api)


def test_every_version_oldest_first_with_what_who_and_when(api, m, class_name, alice):
    r = api.post(f"/classes/{class_name}", headers={**m, "X-Parse-Request-Id": "req-create"},
                 json={"score": 1, "name": "a"})
    oid = r.json()["objectId"]
    assert api.put(f"/classes/{class_name}/{oid}", headers=alice.headers,
                   json={"score": {"__op": "Increment", "amount": 4}}).status_code == 200
    assert api.put(f"/classes/{class_name}/{oid}", headers=m, json={"name": {"__op": "Delete"}}).status_code == 200
    assert api.delete(f"/classes/{class_name}/{oid}", headers=m).status_code == 200

    entries = _entries(api, m, class_name, oid)
    assert [e["op"] for e in entries] == ["create", "update", "update", "delete"]
    assert [e["version"] for e in entries] == [1, 2, 3, 4]
    positions = [e["position"] for e in entries]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert all(ISO.match(e["at"]) for e in entries)
    assert [e["changes"] for e in entries] == [
        {"score": 1, "name": "a"}, {"score": {"__op": "Increment", "amount": 4}}, {"name": {"__op": "Delete"}}, {}]
    create, inc, unset, delete = entries
    assert {k: create["object"][k] for k in ("objectId", "score", "name")} == {"objectId": oid, "score": 1, "name": "a"}
    assert create["object"]["createdAt"] == create["object"]["updatedAt"] == create["at"]
    assert inc["object"]["score"] == 5 and inc["object"]["createdAt"] == create["at"]
    assert "name" not in unset["object"] and unset["object"]["score"] == 5
    assert delete["object"] is None
    assert create["by"]["master"] is True and create["by"]["requestId"] == "req-create"
    assert create["by"]["user"] is None and create["by"]["ip"] == "127.0.0.1"
    assert inc["by"]["user"] == alice.id and inc["by"]["master"] is False and inc["by"]["session"]
    assert all(e["byTrigger"] == [] for e in entries)


def test_paging_with_limit_and_after_gives_each_version_once(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 0}).json()["objectId"]
    for _ in range(6):
        api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": {"__op": "Increment", "amount": 1}})
    whole = _entries(api, m, class_name, oid)
    assert [e["object"]["n"] for e in whole] == list(range(7))
    pages, after = [], 0
    while True:
        page = _entries(api, m, class_name, oid, limit=3, after=after)
        if not page:
            break
        assert len(page) <= 3
        pages += page
        after = page[-1]["position"]
    assert pages == whole
    assert _entries(api, m, class_name, oid, limit=0) == []


def test_the_version_a_cloud_code_trigger_changed_says_so(api, m):
    r = api.post("/classes/Review", headers=m, json={"stars": 4, "comment": "  fine  "})
    assert r.status_code == 201, r.text
    [entry] = _entries(api, m, "Review", r.json()["objectId"])
    assert entry["byTrigger"] == ["comment"] and entry["object"]["comment"] == "fine"


def test_a_client_sees_only_the_versions_it_could_read(api, m, class_name, alice, bob):
    private = {alice.id: {"read": True, "write": True}}
    oid = api.post(f"/classes/{class_name}", headers=m, json={"v": 1, "ACL": private}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"v": 2, "ACL": {"*": {"read": True}}})
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"v": 3})
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"v": 4, "ACL": private})
    api.delete(f"/classes/{class_name}/{oid}", headers=m)

    assert [e["object"] and e["object"]["v"] for e in _entries(api, alice.headers, class_name, oid)] == [1, 2, 3, 4, None]
    for headers in (bob.headers, {}):
        seen = _entries(api, headers, class_name, oid)
        assert [e["object"]["v"] for e in seen] == [2, 3]
        # Who did it: which user, and whether the master key did; nothing about sessions or addresses.
        assert all(e["by"]["session"] is None and e["by"]["ip"] is None and e["by"]["requestId"] is None
                   for e in seen)


@pytest.mark.parametrize("caller", ["bob", "anonymous"])
@pytest.mark.parametrize("params", [{}, {"after": 1}, {"limit": 1}])
def test_an_object_a_client_never_could_read_is_exactly_a_missing_one(api, m, class_name, alice, bob, caller, params):
    headers = bob.headers if caller == "bob" else {}
    oid = api.post(f"/classes/{class_name}", headers=m,
                   json={"v": 1, "ACL": {alice.id: {"read": True}}}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"v": 2})
    api.delete(f"/classes/{class_name}/{oid}", headers=m)
    hidden = _history(api, headers, class_name, oid, **params)
    missing = _history(api, headers, class_name, MISSING, **params)
    other_class = _history(api, headers, class_name + "Nope", oid, **params)
    assert hidden.status_code == missing.status_code == other_class.status_code == 404
    assert hidden.content == missing.content == other_class.content
    assert hidden.json() == {"code": 101, "error": "Object not found."}
    assert [e["object"] for e in _entries(api, alice.headers, class_name, oid)][:2] != [None, None]


def test_protected_fields_are_removed_from_objects_and_changes(api, m, class_name, bob):
    r = api.post(f"/schemas/{class_name}", headers=m, json={
        "className": class_name, "fields": {"secret": {"type": "String"}, "n": {"type": "Number"}},
        "classLevelPermissions": {"get": {"*": True}, "find": {"*": True}, "create": {"*": True},
                                  "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True},
                                  "protectedFields": {"*": ["secret"]}}})
    assert r.status_code == 200, r.text
    oid = api.post(f"/classes/{class_name}", headers=m, json={"secret": "s1", "n": 1}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"secret": "s2", "n": 2})
    for e in _entries(api, bob.headers, class_name, oid):
        assert "secret" not in e["object"] and "secret" not in e["changes"] and "s2" not in json.dumps(e)
    assert [e["object"]["secret"] for e in _entries(api, m, class_name, oid)] == ["s1", "s2"]


def test_a_field_deletion_is_not_a_version(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"a": 1, "b": 2}).json()["objectId"]
    r = api.put(f"/schemas/{class_name}", headers=m, json={"className": class_name, "fields": {"b": {"__op": "Delete"}}})
    assert r.status_code == 200, r.text
    [entry] = _entries(api, m, class_name, oid)
    assert entry["object"]["b"] == 2  # the version as it was written


def test_a_purged_object_shows_its_deletion(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"a": 1}).json()["objectId"]
    assert api.delete(f"/purge/{class_name}", headers=m).status_code == 200
    entries = _entries(api, m, class_name, oid)
    assert [(e["op"], e["version"], e["object"]) for e in entries][1] == ("delete", 2, None)


@pytest.mark.parametrize("params, code", [
    ({"limit": "many"}, 102), ({"after": "x"}, 102), ({"where": "{}"}, 102), ({"limit": "true"}, 102),
])
def test_bad_parameters_are_parse_errors(api, m, class_name, params, code):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"a": 1}).json()["objectId"]
    r = _history(api, m, class_name, oid, **params)
    assert r.status_code == 400 and r.json()["code"] == code, r.text
