"""POST /history/{className}/{objectId}/restore and POST /history/{className}/restore: an object
or a whole class put back as it was, as ordinary new versions (op "restore" in history), with
the master key only, all or nothing."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.api.test_history import alice, m  # noqa: F401 (fixtures: the master key's headers, a user)
from tests.api.users_helpers import master, signup
from tests.conftest import start_server, stop_server


def _entries(api, m, cls, oid) -> list[dict]:
    r = api.get(f"/history/{cls}/{oid}", headers=m)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _get(api, m, cls, oid, **params) -> dict:
    r = api.get(f"/classes/{cls}/{oid}", headers=m, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _restore(api, m, cls, oid, body, status=200) -> dict:
    r = api.post(f"/history/{cls}/{oid}/restore", headers=m, content=json.dumps(body))
    assert r.status_code == status, r.text
    return r.json()


def _restore_class(api, m, cls, body, status=200) -> dict:
    r = api.post(f"/history/{cls}/restore", headers=m, content=json.dumps(body))
    assert r.status_code == status, r.text
    return r.json()


def _head(api, m) -> int:
    r = api.get("/history/verify", headers=m)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    return r.json()["head"]["position"]


def _all(api, m, cls, **params) -> dict[str, dict]:
    r = api.get(f"/classes/{cls}", headers=m, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return {o["objectId"]: o for o in r.json()["results"]}


def _but_updated(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "updatedAt"}


def _tick() -> None:
    time.sleep(0.01)  # so that each write has its own millisecond, for the dated restores


def test_restore_by_version_by_position_and_by_date(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"score": 1, "name": "a"}).json()["objectId"]
    _tick()
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"score": 2})
    _tick()
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"score": 3, "name": {"__op": "Delete"}})
    _tick()
    v1, v2, _ = _entries(api, m, class_name, oid)

    back = _restore(api, m, class_name, oid, {"version": 1})
    assert _but_updated(back) == _but_updated(v1["object"])
    assert back == _get(api, m, class_name, oid)
    assert _restore(api, m, class_name, oid, {"position": v2["position"]})["score"] == 2
    dated = _restore(api, m, class_name, oid, {"asOf": v1["at"]})
    assert dated["score"] == 1 and dated["name"] == "a"

    entries = _entries(api, m, class_name, oid)
    assert [e["op"] for e in entries] == ["create", "update", "update", "restore", "restore", "restore"]
    assert [e["version"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[3]["changes"] == {"score": 1, "name": "a"} and entries[3]["by"]["master"] is True
    assert entries[4]["changes"] == {"score": 2}
    assert _but_updated(entries[-1]["object"]) == _but_updated(v1["object"])
    # The object goes on as usual after a restore (its versions continue).
    assert api.put(f"/classes/{class_name}/{oid}", headers=m,
                   json={"score": {"__op": "Increment", "amount": 1}}).status_code == 200
    assert _get(api, m, class_name, oid)["score"] == 2
    _head(api, m)


def test_undelete_keeps_the_object_id_and_created_at_and_reads_back_identical(api, m, class_name, alice):
    fields = {"n": 7, "ok": True, "tags": ["a", {"b": 1}], "nested": {"x": [1, 2]},
              "when": {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"},
              "where": {"__type": "GeoPoint", "latitude": 1.5, "longitude": -2.0},
              "owner": {"__type": "Pointer", "className": "_User", "objectId": alice.id},
              "ACL": {alice.id: {"read": True, "write": True}}}
    oid = api.post(f"/classes/{class_name}", headers=m, json=fields).json()["objectId"]
    before = _get(api, m, class_name, oid)
    assert api.delete(f"/classes/{class_name}/{oid}", headers=m).status_code == 200
    created_at = _entries(api, m, class_name, oid)[0]["position"]

    back = _restore(api, m, class_name, oid, {"position": created_at})
    assert back["objectId"] == oid and back["createdAt"] == before["createdAt"]
    assert back["updatedAt"] > before["updatedAt"]
    assert _but_updated(_get(api, m, class_name, oid)) == _but_updated(before)
    # Its owner reads it again with her session, as before the delete.
    assert api.get(f"/classes/{class_name}/{oid}", headers=alice.headers).json()["n"] == 7
    entries = _entries(api, m, class_name, oid)
    assert [(e["op"], e["version"]) for e in entries] == [("create", 1), ("delete", 2), ("restore", 3)]
    assert _but_updated(entries[-1]["object"]) == _but_updated(before)
    # The live row and the history agree, so the next write and the next delete work.
    assert api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": 8}).status_code == 200
    assert api.delete(f"/classes/{class_name}/{oid}", headers=m).status_code == 200
    _head(api, m)


def test_a_damaged_object_reverts_exactly(api, m, class_name, alice):
    oid = api.post(f"/classes/{class_name}", headers=m, json={
        "a": 1, "b": "keep me", "c": [1, 2], "flag": False, "ACL": {"*": {"read": True}}}).json()["objectId"]
    good = _get(api, m, class_name, oid)
    then = _entries(api, m, class_name, oid)[-1]["position"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={
        "a": 99, "b": {"__op": "Delete"}, "c": {"__op": "AddUnique", "objects": [3]}, "flag": True,
        "added": "junk", "ACL": {alice.id: {"read": True, "write": True}}})
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"more": {"x": 1}, "ACL": {"__op": "Delete"}})

    back = _restore(api, m, class_name, oid, {"asOf": then})
    assert _but_updated(back) == _but_updated(good)
    assert "added" not in back and "more" not in back and back["ACL"] == {"*": {"read": True}}
    restore = _entries(api, m, class_name, oid)[-1]
    assert restore["op"] == "restore"
    assert restore["changes"] == {"a": 1, "b": "keep me", "c": [1, 2], "flag": False, "ACL": {"*": {"read": True}},
                                  "added": {"__op": "Delete"}, "more": {"__op": "Delete"}}
    # A client reads it again as it could before the damage.
    assert api.get(f"/classes/{class_name}/{oid}", headers=alice.headers).json()["b"] == "keep me"


def test_a_restore_to_what_the_object_already_is_writes_nothing(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": 2})
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": 1})
    head = _head(api, m)
    back = _restore(api, m, class_name, oid, {"version": 1})
    assert back == _get(api, m, class_name, oid) and back["n"] == 1
    assert _head(api, m) == head and len(_entries(api, m, class_name, oid)) == 3


def test_a_restore_to_when_the_object_did_not_exist_is_101_and_writes_nothing(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1}).json()["objectId"]
    created = _entries(api, m, class_name, oid)[0]["position"]
    api.delete(f"/classes/{class_name}/{oid}", headers=m)
    deleted = _entries(api, m, class_name, oid)[-1]["position"]
    api.post(f"/classes/{class_name}", headers=m, json={"n": 2})  # the log moves on
    head = _head(api, m)
    for cls, obj, body in [(class_name, oid, {"asOf": created - 1}), (class_name, oid, {"position": deleted}),
                           (class_name, oid, {"asOf": deleted + 1}), (class_name, oid, {"version": 2}),
                           (class_name, oid, {"version": 3}), (class_name, "zzzzzzzzzz", {"version": 1}),
                           (class_name + "Never", oid, {"version": 1})]:
        assert _restore(api, m, cls, obj, body, 404) == {"code": 101, "error": "Object not found."}, body
    assert _head(api, m) == head
    with pytest.raises(AssertionError):
        _get(api, m, class_name, oid)


def test_a_field_the_schema_lost_comes_back_with_the_object(api, m, class_name):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1, "gone": "x"}).json()["objectId"]
    r = api.put(f"/schemas/{class_name}", headers=m, json={"className": class_name, "fields": {"gone": {"__op": "Delete"}}})
    assert r.status_code == 200, r.text
    assert "gone" not in _get(api, m, class_name, oid)
    assert _restore(api, m, class_name, oid, {"version": 1})["gone"] == "x"
    assert api.get(f"/schemas/{class_name}", headers=m).json()["fields"]["gone"] == {"type": "String"}


def test_a_whole_class_back_as_it_was_after_a_mass_delete_updates_and_new_objects(api, m, class_name, alice):
    ids = [api.post(f"/classes/{class_name}", headers=m, json={
        "i": i, "tag": "t" if i % 2 else "u", "ACL": {"*": {"read": True}}}).json()["objectId"] for i in range(10)]
    _tick()
    then = _entries(api, m, class_name, ids[-1])[-1]["at"]
    expected = _all(api, m, class_name, asOf=then)
    assert len(expected) == 10
    _tick()
    for oid in ids[:5]:  # the accident: a mass delete ...
        assert api.delete(f"/classes/{class_name}/{oid}", headers=m).status_code == 200
    api.put(f"/classes/{class_name}/{ids[5]}", headers=m, json={"i": -5, "extra": [1]})
    api.put(f"/classes/{class_name}/{ids[6]}", headers=m, json={"tag": {"__op": "Delete"}})
    api.put(f"/classes/{class_name}/{ids[7]}", headers=m, json={"ACL": {alice.id: {"read": True}}})
    for i in range(4):  # ... and objects made since
        api.post(f"/classes/{class_name}", headers=m, json={"i": 100 + i, "new": True})
    api.put(f"/classes/{class_name}/{ids[8]}", headers=m, json={"i": 42})
    api.put(f"/classes/{class_name}/{ids[8]}", headers=m, json={"i": 8})  # changed and changed back

    done = _restore_class(api, m, class_name, {"asOf": then})
    assert {k: done[k] for k in ("restored", "deleted", "reverted")} == {"restored": 5, "deleted": 4, "reverted": 3}
    assert done["position"] == _head(api, m)
    now = _all(api, m, class_name)
    assert {k: _but_updated(v) for k, v in now.items()} == {k: _but_updated(v) for k, v in expected.items()}
    # Unchanged objects got no event; the others one "restore" each.
    assert [e["op"] for e in _entries(api, m, class_name, ids[9])] == ["create"]
    assert [e["op"] for e in _entries(api, m, class_name, ids[8])] == ["create", "update", "update"]
    assert [e["op"] for e in _entries(api, m, class_name, ids[0])] == ["create", "delete", "restore"]
    assert [e["op"] for e in _entries(api, m, class_name, ids[6])] == ["create", "update", "restore"]
    # Again: nothing differs any more, nothing is written.
    again = _restore_class(api, m, class_name, {"asOf": then})
    assert again == {"restored": 0, "deleted": 0, "reverted": 0, "position": None}
    assert _head(api, m) == done["position"]


def test_a_class_restore_that_meets_a_type_clash_writes_nothing(api, m, class_name):
    ids = [api.post(f"/classes/{class_name}", headers=m, json={"f": i, "g": i}).json()["objectId"] for i in range(3)]
    then = _entries(api, m, class_name, ids[-1])[-1]["position"]
    api.delete(f"/classes/{class_name}/{ids[0]}", headers=m)
    api.put(f"/classes/{class_name}/{ids[1]}", headers=m, json={"g": 100})
    r = api.put(f"/schemas/{class_name}", headers=m, json={"className": class_name, "fields": {"f": {"__op": "Delete"}}})
    assert r.status_code == 200, r.text
    api.post(f"/classes/{class_name}", headers=m, json={"f": "now a string"})
    before, head = _all(api, m, class_name), _head(api, m)

    r = api.post(f"/history/{class_name}/restore", headers=m, json={"asOf": then})
    assert r.status_code == 400 and r.json()["code"] == 111, r.text
    assert _all(api, m, class_name) == before and _head(api, m) == head
    assert api.get(f"/schemas/{class_name}", headers=m).json()["fields"]["f"] == {"type": "String"}


def test_an_undeleted_user_whose_username_was_taken_since_is_refused(api, m):
    old = signup(api)
    assert api.delete(f"/users/{old.id}", headers=m).status_code == 200
    signup(api, username=old.username)
    head = _head(api, m)
    r = api.post(f"/history/_User/{old.id}/restore", headers=m, json={"version": 1})
    assert r.status_code == 400 and r.json() == {"code": 202, "error": "Account already exists for this username."}
    assert _head(api, m) == head


def test_a_client_is_refused_as_for_verify(api, m, class_name, alice):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1, "ACL": {alice.id: {"read": True, "write": True}}}).json()["objectId"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": 2})
    head = _head(api, m)
    verify = api.get("/history/verify", headers=alice.headers)
    for path in (f"/history/{class_name}/{oid}/restore", f"/history/{class_name}/restore"):
        for headers in (alice.headers, {}):
            r = api.post(path, headers=headers, json={"asOf": 1})
            assert (r.status_code, r.json()) == (verify.status_code, verify.json()) == (403, {"error": "Permission denied"})
    assert _head(api, m) == head and _get(api, m, class_name, oid)["n"] == 2


@pytest.mark.parametrize("body, code", [
    ([], 107), ("text", 107), (None, 107), ({}, 102), ({"version": 1, "asOf": 3}, 102), ({"position": 1, "version": 1}, 102),
    ({"when": 1}, 102), ({"version": 0}, 102), ({"version": -1}, 102), ({"version": "1"}, 102), ({"version": 1.5}, 102),
    ({"version": True}, 102), ({"position": 0}, 102), ({"position": 2**70}, 102), ({"version": 2**40}, 102),
    ({"asOf": "yesterday"}, 102), ({"asOf": -3}, 102), ({"asOf": None}, 102),
])
def test_bad_bodies_are_refused_with_the_right_code(api, m, class_name, body, code):
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1}).json()["objectId"]
    r = api.post(f"/history/{class_name}/{oid}/restore", headers=m, content=json.dumps(body))
    assert r.status_code == 400 and r.json()["code"] == code, r.text


@pytest.mark.parametrize("body, code", [([], 107), ({}, 102), ({"version": 1}, 102), ({"position": 1}, 102),
                                        ({"asOf": 1, "x": 2}, 102), ({"asOf": "nope"}, 102)])
def test_bad_class_restore_bodies_are_refused(api, m, class_name, body, code):
    api.post(f"/classes/{class_name}", headers=m, json={"n": 1})
    r = api.post(f"/history/{class_name}/restore", headers=m, content=json.dumps(body))
    assert r.status_code == 400 and r.json()["code"] == code, r.text


def test_a_bad_class_name_is_refused(api, m):
    r = api.post("/history/bad-name/restore", headers=m, json={"asOf": 1})
    assert r.status_code == 400 and r.json()["code"] == 103, r.text


def test_the_read_only_master_key_may_not_restore(fresh_dsn):
    info = start_server(fresh_dsn, "--readOnlyMasterKey", "read-only")
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
            m = master(info)
            oid = c.post("/classes/Thing", headers=m, json={"n": 1}).json()["objectId"]
            c.put(f"/classes/Thing/{oid}", headers=m, json={"n": 2})
            read_only = {"X-Parse-Master-Key": "read-only"}
            for path in (f"/history/Thing/{oid}/restore", "/history/Thing/restore"):
                r = c.post(path, headers=read_only, json={"asOf": 1})
                assert r.status_code == 400 and r.json()["code"] == 119, r.text
            assert c.get(f"/classes/Thing/{oid}", headers=m).json()["n"] == 2
    finally:
        stop_server(info)


def test_a_dropped_class_comes_back_with_its_objects(api, m, class_name):
    ids = [api.post(f"/classes/{class_name}", headers=m, json={"i": i, "w": "x" * i}).json()["objectId"] for i in range(3)]
    then = _entries(api, m, class_name, ids[-1])[-1]["position"]
    expected = _all(api, m, class_name, asOf=then)
    for oid in ids:
        api.delete(f"/classes/{class_name}/{oid}", headers=m)
    assert api.delete(f"/schemas/{class_name}", headers=m).status_code == 200
    assert api.get(f"/schemas/{class_name}", headers=m).status_code == 400

    done = _restore_class(api, m, class_name, {"asOf": then})
    assert (done["restored"], done["deleted"], done["reverted"]) == (3, 0, 0)
    assert {k: _but_updated(v) for k, v in _all(api, m, class_name).items()} == \
        {k: _but_updated(v) for k, v in expected.items()}
    fields = api.get(f"/schemas/{class_name}", headers=m).json()["fields"]
    assert fields["i"] == {"type": "Number"} and fields["w"] == {"type": "String"}


def test_the_change_feed_shows_restores_as_history_does(api, m, class_name):
    """GET /changes gives each restore's event as GET /history gives its version: op "restore",
    the undeleted object with its first createdAt, a class restore's delete with no object."""
    oid = api.post(f"/classes/{class_name}", headers=m, json={"n": 1}).json()["objectId"]
    then = _entries(api, m, class_name, oid)[-1]["position"]
    api.put(f"/classes/{class_name}/{oid}", headers=m, json={"n": 2})
    api.delete(f"/classes/{class_name}/{oid}", headers=m)
    _restore(api, m, class_name, oid, {"asOf": then})
    late = api.post(f"/classes/{class_name}", headers=m, json={"n": 9}).json()["objectId"]
    _restore_class(api, m, class_name, {"asOf": then})

    r = api.get("/changes", headers=m, params={"className": class_name, "after": then})
    assert r.status_code == 200, r.text
    feed = [e for e in r.json()["results"] if e["op"] == "restore"]
    assert [(e["objectId"], e["object"] is None) for e in feed] == [(oid, False), (late, True)]
    for e in feed:
        [same] = [h for h in _entries(api, m, class_name, e["objectId"]) if h["position"] == e["position"]]
        assert {k: v for k, v in e.items() if k not in ("className", "objectId")} == same
    assert feed[0]["object"]["createdAt"] == _get(api, m, class_name, oid)["createdAt"]
