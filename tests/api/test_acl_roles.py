"""Object ACLs and roles over REST: what another user, the public and role members get through
get, find, count, update, delete, include and subqueries."""

from __future__ import annotations

from tests.api.users_helpers import master, signup, where


def _ptr(cls: str, oid: str) -> dict:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def test_a_private_object_is_invisible_and_untouchable_to_others(api, class_name):
    alice, bob = signup(api), signup(api)
    oid = api.post(f"/classes/{class_name}", json={"t": "secret", "ACL": {alice.id: {"read": True, "write": True}}},
                   headers=alice.headers).json()["objectId"]
    api.post(f"/classes/{class_name}", json={"t": "public"})
    for who in ({}, bob.headers):
        r = api.get(f"/classes/{class_name}/{oid}", headers=who)
        assert (r.status_code, r.json()) == (404, {"code": 101, "error": "Object not found."})
        found = api.get(f"/classes/{class_name}", params={"count": "1"}, headers=who).json()
        assert [o["t"] for o in found["results"]] == ["public"] and found["count"] == 1
        r = api.put(f"/classes/{class_name}/{oid}", json={"t": "hacked"}, headers=who)
        assert (r.status_code, r.json()["code"]) == (404, 101)
        r = api.delete(f"/classes/{class_name}/{oid}", headers=who)
        assert (r.status_code, r.json()["code"]) == (404, 101)
    assert api.get(f"/classes/{class_name}/{oid}", headers=alice.headers).json()["t"] == "secret"


def test_read_only_acl_lets_others_read_but_not_write(api, class_name):
    alice, bob = signup(api), signup(api)
    oid = api.post(f"/classes/{class_name}", json={"n": 1, "ACL": {"*": {"read": True}, alice.id: {"write": True}}},
                   headers=alice.headers).json()["objectId"]
    assert api.get(f"/classes/{class_name}/{oid}", headers=bob.headers).json()["n"] == 1
    assert api.put(f"/classes/{class_name}/{oid}", json={"n": 2}, headers=bob.headers).json()["code"] == 101
    assert api.put(f"/classes/{class_name}/{oid}", json={"n": 3}, headers=alice.headers).status_code == 200


def test_hidden_objects_stay_pointers_in_include_and_never_match_subqueries(api, class_name):
    alice, bob = signup(api), signup(api)
    secret = api.post(f"/classes/{class_name}Target", json={"k": "s", "ACL": {alice.id: {"read": True}}},
                      headers=alice.headers).json()["objectId"]
    api.post(f"/classes/{class_name}", json={"ref": _ptr(class_name + "Target", secret), "k": "s"})
    got = api.get(f"/classes/{class_name}", params={"include": "ref"}, headers=bob.headers).json()["results"]
    assert got[0]["ref"] == _ptr(class_name + "Target", secret)  # not expanded for bob
    mine = api.get(f"/classes/{class_name}", params={"include": "ref"}, headers=alice.headers).json()["results"]
    assert mine[0]["ref"]["k"] == "s"
    in_query = where({"ref": {"$inQuery": {"className": class_name + "Target", "where": {"k": "s"}}}})
    assert api.get(f"/classes/{class_name}", params=in_query, headers=bob.headers).json()["results"] == []
    assert len(api.get(f"/classes/{class_name}", params=in_query, headers=alice.headers).json()["results"]) == 1
    select = where({"k": {"$select": {"query": {"className": class_name + "Target", "where": {}}, "key": "k"}}})
    assert api.get(f"/classes/{class_name}", params=select, headers=bob.headers).json()["results"] == []


def test_roles_inside_roles_grant_access_and_a_removal_counts_at_once(api, parsnip_server, class_name):
    user = signup(api)
    m = master(parsnip_server)
    role_a = api.post("/roles", json={"name": class_name + "A", "ACL": {"*": {"read": True}},
                                      "users": {"__op": "AddRelation", "objects": [_ptr("_User", user.id)]}},
                      headers=m).json()["objectId"]
    api.post("/roles", json={"name": class_name + "B", "ACL": {"*": {"read": True}},
                             "roles": {"__op": "AddRelation", "objects": [_ptr("_Role", role_a)]}}, headers=m)
    oid = api.post(f"/classes/{class_name}", json={"t": "for B", "ACL": {f"role:{class_name}B": {"read": True}}},
                   headers=m).json()["objectId"]
    assert api.get(f"/classes/{class_name}/{oid}", headers=user.headers).json()["t"] == "for B"
    assert api.get(f"/classes/{class_name}/{oid}").status_code == 404
    api.put(f"/roles/{role_a}", json={"users": {"__op": "RemoveRelation", "objects": [_ptr("_User", user.id)]}},
            headers=m)
    assert api.get(f"/classes/{class_name}/{oid}", headers=user.headers).status_code == 404


def test_joining_a_role_needs_write_access_to_it(api, parsnip_server, class_name):
    user = signup(api)
    role = api.post("/roles", json={"name": class_name, "ACL": {"*": {"read": True}}},
                    headers=master(parsnip_server)).json()["objectId"]
    r = api.put(f"/roles/{role}", json={"users": {"__op": "AddRelation", "objects": [_ptr("_User", user.id)]}},
                headers=user.headers)
    assert (r.status_code, r.json()["code"]) == (404, 101)
    r = api.put(f"/roles/{role}", json={"name": "renamed"}, headers=master(parsnip_server))
    assert r.json() == {"code": -1, "error": "A role's name can only be set before it has been saved."}


def test_the_read_only_master_key_reads_everything_and_writes_nothing(fresh_dsn, class_name):
    import httpx

    from tests.conftest import start_server, stop_server

    info = start_server(fresh_dsn, "--readOnlyMasterKey", "ro-key")
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}) as c:
            oid = c.post(f"/classes/{class_name}", json={"x": 1, "ACL": {}},
                         headers={"X-Parse-Master-Key": info.master_key}).json()["objectId"]
            ro = {"X-Parse-Master-Key": "ro-key"}
            assert c.get(f"/classes/{class_name}/{oid}", headers=ro).json()["x"] == 1
            for r in (c.post(f"/classes/{class_name}", json={"x": 2}, headers=ro),
                      c.put(f"/classes/{class_name}/{oid}", json={"x": 2}, headers=ro),
                      c.delete(f"/classes/{class_name}/{oid}", headers=ro)):
                assert (r.status_code, r.json()["code"]) == (400, 119)
    finally:
        stop_server(info)


def test_the_master_key_from_an_address_not_allowed_is_refused(fresh_dsn):
    import httpx

    from tests.conftest import start_server, stop_server

    info = start_server(fresh_dsn, "--masterKeyIps", "10.0.0.0/8")
    try:
        r = httpx.get(info.url + "/classes/Anything",
                      headers={"X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key})
        assert (r.status_code, r.json()) == (403, {"error": "unauthorized"})
    finally:
        stop_server(info)


def test_clps_set_through_the_schema_api_are_enforced(api, parsnip_server, class_name):
    owner, other = signup(api), signup(api)
    m = master(parsnip_server)
    api.post(f"/classes/{class_name}", json={"secret": "s", "open": "o", "owner": _ptr("_User", owner.id)}, headers=m)
    clp = {"find": {"requiresAuthentication": True}, "get": {}, "count": {}, "create": {}, "update": {},
           "delete": {}, "addField": {}, "readUserFields": ["owner"],
           "protectedFields": {"*": ["secret"], "userField:owner": []}}
    r = api.put(f"/schemas/{class_name}", json={"classLevelPermissions": clp}, headers=m)
    assert r.status_code == 200, r.text
    r = api.get(f"/classes/{class_name}")
    assert (r.status_code, r.json()["code"]) == (404, 101)  # requiresAuthentication, no session
    assert api.post(f"/classes/{class_name}", json={"x": 1}, headers=owner.headers).json()["code"] == 119
    mine = api.get(f"/classes/{class_name}", headers=owner.headers).json()["results"]
    assert [o["secret"] for o in mine] == ["s"]  # the owner's userField entry un-hides it
    theirs = api.get(f"/classes/{class_name}", headers=other.headers).json()["results"]
    assert [(o["open"], "secret" in o) for o in theirs] == [("o", False)]  # any logged-in user finds; "*" hides
    r = api.get(f"/classes/{class_name}", params=where({"secret": "s"}), headers=other.headers)
    assert (r.status_code, r.json()["code"]) == (400, 119)
