"""Relations: AddRelation / RemoveRelation / Batch, $relatedTo, redirectClassNameForKey, and the schema."""

from __future__ import annotations

import json


def _make(api, cls, body=None) -> str:
    r = api.post(f"/classes/{cls}", json=body or {})
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


def _ptr(cls, oid):
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def _op(kind, cls, *ids):
    return {"__op": kind, "objects": [_ptr(cls, i) for i in ids]}


def _related(api, owner_cls, owner, key, target_cls, **params):
    where = {"$relatedTo": {"object": _ptr(owner_cls, owner), "key": key}}
    r = api.get(f"/classes/{target_cls}", params={"where": json.dumps(where), **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_add_remove_batch_and_related_to(api, class_name):
    owner_cls, target_cls = class_name + "O", class_name + "T"
    t = [_make(api, target_cls, {"n": n}) for n in range(4)]
    owner = _make(api, owner_cls, {"likes": _op("AddRelation", target_cls, t[0], t[1])})
    got = api.get(f"/classes/{owner_cls}/{owner}").json()
    assert got["likes"] == {"__type": "Relation", "className": target_cls}
    assert sorted(o["n"] for o in _related(api, owner_cls, owner, "likes", target_cls)) == [0, 1]

    r = api.put(f"/classes/{owner_cls}/{owner}", json={"likes": {"__op": "Batch", "ops": [
        _op("AddRelation", target_cls, t[2], t[3]), _op("RemoveRelation", target_cls, t[0])]}})
    assert r.status_code == 200 and set(r.json()) == {"updatedAt"}
    assert sorted(o["n"] for o in _related(api, owner_cls, owner, "likes", target_cls)) == [1, 2, 3]
    # Combined with other constraints, counted, and redirected from the owner's class.
    assert [o["n"] for o in _related(api, owner_cls, owner, "likes", target_cls, order="-n", limit=1)] == [3]
    assert api.get(f"/classes/{target_cls}", params={
        "where": f'{{"$relatedTo":{{"object":{{"__type":"Pointer","className":"{owner_cls}","objectId":"{owner}"}},"key":"likes"}}}}',
        "count": 1, "limit": 0}).json()["count"] == 3
    redirected = _related(api, owner_cls, owner, "likes", owner_cls, redirectClassNameForKey="likes")
    assert sorted(o["n"] for o in redirected) == [1, 2, 3] and {o["className"] for o in redirected} == {target_cls}


def test_relation_type_is_enforced(api, class_name):
    owner_cls = class_name + "O"
    owner = _make(api, owner_cls, {"likes": _op("AddRelation", "A", "x1")})
    r = api.put(f"/classes/{owner_cls}/{owner}", json={"likes": _op("AddRelation", "B", "x2")})
    assert r.status_code == 400 and r.json() == {
        "code": 111, "error": f"schema mismatch for {owner_cls}.likes; expected Relation<A> but got Relation<B>"}
    r = api.put(f"/classes/{owner_cls}/{owner}", json={"likes": 5})
    assert r.status_code == 400 and r.json()["code"] == 111


def test_deleting_the_owner_empties_its_relations(api, class_name):
    owner_cls, target_cls = class_name + "O", class_name + "T"
    t = _make(api, target_cls, {"n": 1})
    owner = _make(api, owner_cls, {"likes": _op("AddRelation", target_cls, t)})
    assert len(_related(api, owner_cls, owner, "likes", target_cls)) == 1
    assert api.delete(f"/classes/{owner_cls}/{owner}").status_code == 200
    assert _related(api, owner_cls, owner, "likes", target_cls) == []
