"""Relations: AddRelation / RemoveRelation / Batch, $relatedTo, redirectClassNameForKey, and the schema."""

from __future__ import annotations

import json

import pytest


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


# -- constraints on the Relation key itself (each answer read from the reference Parse Server) --

def _owners(api, cls, where) -> list[str]:
    r = api.get(f"/classes/{cls}", params={"where": json.dumps(where), "order": "name"})
    assert r.status_code == 200, r.text
    return [o["name"] for o in r.json()["results"]]


@pytest.mark.parametrize("constraint, expected", [
    ("t0", ["a"]),
    ("t1", ["a", "b"]),
    ("missing", []),
    ("t0-other-class", ["a"]),  # only the objectId counts, as in Parse
    ({"$in": ["t0"]}, ["a"]),
    ({"$in": ["t0", "t1"]}, ["a", "b"]),
    ({"$nin": ["t0"]}, ["b", "c"]),
    ({"$ne": "t0"}, ["b", "c"]),
    ({"$ne": "t1"}, ["c"]),
], ids=["equal-t0", "equal-t1", "equal-missing", "equal-other-class", "in-one", "in-two", "nin", "ne-t0", "ne-t1"])
def test_a_pointer_constraint_on_a_relation_key_finds_its_owners(api, class_name, constraint, expected):
    owner_cls, target_cls = class_name + "O", class_name + "T"
    t = {f"t{n}": _make(api, target_cls, {"n": n}) for n in range(2)}
    t["missing"] = "zzzzzzzzzz"
    _make(api, owner_cls, {"name": "a", "likes": _op("AddRelation", target_cls, t["t0"], t["t1"])})
    _make(api, owner_cls, {"name": "b", "likes": _op("AddRelation", target_cls, t["t1"])})
    _make(api, owner_cls, {"name": "c"})

    def ptr(name: str) -> dict:
        if name == "t0-other-class":
            return _ptr("Other", t["t0"])
        return _ptr(target_cls, t[name])

    if isinstance(constraint, str):
        value: object = ptr(constraint)
    else:
        [(op, arg)] = constraint.items()
        value = {op: [ptr(n) for n in arg] if isinstance(arg, list) else ptr(arg)}
    assert _owners(api, owner_cls, {"likes": value}) == expected
    # Combined with other constraints, inside $or, and counted.
    assert _owners(api, owner_cls, {"likes": value, "name": "a"}) == [n for n in expected if n == "a"]
    assert _owners(api, owner_cls, {"$or": [{"likes": value}, {"name": "c"}]}) == sorted(set(expected) | {"c"})
    r = api.get(f"/classes/{owner_cls}", params={"where": json.dumps({"likes": value}), "count": 1, "limit": 0})
    assert r.json() == {"results": [], "count": len(expected)}


def test_a_relation_constraint_inside_a_subquery_finds_its_owners(api, class_name):
    """Parse reads `{relKey: pointer}` (and $in, $ne) in a subquery's where as at the top level
    (checked on the reference): $inQuery, $notInQuery, $select and $dontSelect, nested too."""
    owner_cls, target_cls, post_cls = class_name + "O", class_name + "T", class_name + "P"
    t0, t1 = _make(api, target_cls, {"n": 0}), _make(api, target_cls, {"n": 1})
    a = _make(api, owner_cls, {"name": "a", "likes": _op("AddRelation", target_cls, t0)})
    b = _make(api, owner_cls, {"name": "b", "likes": _op("AddRelation", target_cls, t1)})
    for name, owner in (("pa", a), ("pb", b)):
        _make(api, post_cls, {"name": name, "owner": _ptr(owner_cls, owner), "ownerId": owner})
    likes_t0 = {"where": {"likes": _ptr(target_cls, t0)}, "className": owner_cls}
    assert _owners(api, post_cls, {"owner": {"$inQuery": likes_t0}}) == ["pa"]
    assert _owners(api, post_cls, {"owner": {"$notInQuery": likes_t0}}) == ["pb"]
    assert _owners(api, post_cls, {"ownerId": {"$select": {"query": likes_t0, "key": "objectId"}}}) == ["pa"]
    assert _owners(api, post_cls, {"ownerId": {"$dontSelect": {"query": likes_t0, "key": "objectId"}}}) == ["pb"]
    for where, expected in (({"likes": {"$in": [_ptr(target_cls, t1)]}}, ["pb"]),
                            ({"likes": {"$ne": _ptr(target_cls, t0)}}, ["pb"]),
                            ({"$or": [{"likes": _ptr(target_cls, t0)}, {"name": "b"}]}, ["pa", "pb"])):
        assert _owners(api, post_cls, {"owner": {"$inQuery": {"where": where, "className": owner_cls}}}) == expected
    # A subquery within a subquery: posts whose owner is the owner of a post whose owner likes t1.
    nested = {"owner": {"$inQuery": {"where": {"likes": _ptr(target_cls, t1)}, "className": owner_cls}}}
    assert _owners(api, post_cls, {"ownerId": {"$select": {
        "query": {"where": nested, "className": post_cls}, "key": "ownerId"}}}) == ["pb"]
