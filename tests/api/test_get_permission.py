"""A find whose only constraint is `objectId` equality is a `get` for class-level permissions,
as Parse Server 9.10 checks it (the JS SDK's `query.get(id)` sends exactly that): a class with
find off and get on serves it, and any other find stays refused (each answer below was read
from the reference server)."""

from __future__ import annotations

import pytest

from tests.api.users_helpers import master

DENIED = {"code": 119, "error": "Permission denied"}


@pytest.fixture
def get_only(api, parsnip_server, class_name):
    clp = {"find": {}, "count": {}, "get": {"*": True}, "create": {"*": True}, "update": {"*": True},
           "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {}}
    r = api.post(f"/schemas/{class_name}", json={"classLevelPermissions": clp}, headers=master(parsnip_server))
    assert r.status_code == 200, r.text
    r = api.post(f"/classes/{class_name}", json={"a": 1})
    return class_name, r.json()["objectId"]


@pytest.mark.parametrize("where, params, found", [
    ('{{"objectId":"{id}"}}', {"limit": 1}, True),
    ('{{"objectId":"{id}"}}', {}, True),
    ('{{"objectId":"nope"}}', {"limit": 1}, False),
    ('{{"objectId":"{id}"}}', {"order": "a", "keys": "a"}, True),
    ('{{"objectId":"{id}"}}', {"skip": 1}, False),
], ids=["sdk-query-get", "no-limit", "no-such-object", "with-order-and-keys", "skipped"])
def test_an_object_id_equality_is_a_get(api, get_only, where, params, found):
    cls, oid = get_only
    r = api.get(f"/classes/{cls}", params={"where": where.format(id=oid), **params})
    assert r.status_code == 200, r.text
    assert [o["objectId"] for o in r.json()["results"]] == ([oid] if found else [])


@pytest.mark.parametrize("where, params", [
    (None, {}),
    ('{{"objectId":{{"$eq":"{id}"}}}}', {}),
    ('{{"objectId":"{id}","a":1}}', {}),
    ('{{"objectId":"{id}"}}', {"count": 1, "limit": 0}),
], ids=["no-constraint", "eq-operator", "another-constraint", "count"])
def test_every_other_find_is_still_a_find(api, get_only, where, params):
    cls, oid = get_only
    if where is not None:
        params = {"where": where.format(id=oid), **params}
    r = api.get(f"/classes/{cls}", params=params)
    assert (r.status_code, r.json()) == (400, DENIED)
