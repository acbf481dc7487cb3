"""Attacks on users' data, each with exactly what it gets. Every status and code here was
checked against Parse Server 9.10 (enforcePrivateUsers, sanitized errors); where Parsnip
answers differently the test says so and why.

CLP enforcement (which needs a CLP set through the schema API) is tested at the unit level in
tests/core/test_security_clp.py.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time

import httpx
import pytest

import parsnip.api.request as request_module
from parsnip.core.config import Config
from tests.api.users_helpers import User, master, signup, where
from tests.conftest import start_server, stop_server

NOT_FOUND = (404, {"code": 101, "error": "Object not found."})
NOT_FOUND_FOR_DELETE = (404, {"code": 101, "error": "Object not found for delete."})
DENIED = {"code": 119, "error": "Permission denied"}
INVALID_TOKEN = (400, {"code": 209, "error": "Invalid session token"})
MISSING_ID = "zzzzzzzzzz"


def _answer(r: httpx.Response) -> tuple[int, dict]:
    return r.status_code, r.json()


def _pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


@pytest.fixture
def alice(api) -> User:
    return signup(api, email=f"a{secrets.token_hex(4)}@x.com", ACL={"*": {"read": True}})


@pytest.fixture
def bob(api) -> User:
    return signup(api)


@pytest.fixture
def private(api, alice, class_name) -> str:
    """The objectId of an object in `class_name` that only alice may read and write."""
    r = api.post(f"/classes/{class_name}", headers=alice.headers,
                 json={"secret": "s3cret", "n": 1, "ACL": {alice.id: {"read": True, "write": True}}})
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


@pytest.fixture
def public_class(api, alice, class_name, private) -> str:
    """A public class whose one object points at alice's private object and has `k` = "s3cret"."""
    name = class_name + "Pub"
    r = api.post(f"/classes/{name}", headers=alice.headers,
                 json={"p": _pointer(class_name, private), "k": "s3cret"})
    assert r.status_code == 201, r.text
    return name


# -- reading another user's private objects ------------------------------------------------

@pytest.mark.parametrize("caller", ["bob", "anonymous"])
def test_get_of_a_hidden_object_is_the_same_101_as_a_missing_one(api, bob, class_name, private, caller):
    """GET /classes/X/id of an object the caller may not read."""
    headers = bob.headers if caller == "bob" else {}
    hidden = api.get(f"/classes/{class_name}/{private}", headers=headers)
    missing = api.get(f"/classes/{class_name}/{MISSING_ID}", headers=headers)
    assert _answer(hidden) == _answer(missing) == NOT_FOUND


@pytest.mark.parametrize("params, expected", [
    ({}, {"results": []}),
    ({"count": "1", "limit": "0"}, {"results": [], "count": 0}),
    ({"count": "1"}, {"results": [], "count": 0}),
    ({"where": json.dumps({"secret": "s3cret"})}, {"results": []}),
    ({"where": json.dumps({"objectId": {"$exists": True}})}, {"results": []}),
])
def test_find_and_count_never_see_a_hidden_object(api, bob, class_name, private, params, expected):
    """find / count / matching on the hidden object's values as another user."""
    assert _answer(api.get(f"/classes/{class_name}", params=params, headers=bob.headers)) == (200, expected)


def test_batch_get_put_delete_of_a_hidden_object_are_101(api, bob, alice, class_name, private):
    """POST /batch with GET, PUT and DELETE of another user's private object."""
    path = f"/parse/classes/{class_name}/{private}"
    r = api.post("/batch", headers=bob.headers, json={"requests": [
        {"method": "GET", "path": path},
        {"method": "PUT", "path": path, "body": {"n": 2}},
        {"method": "DELETE", "path": path},
    ]})
    assert _answer(r) == (200, [{"error": NOT_FOUND[1]}, {"error": NOT_FOUND[1]}, {"error": NOT_FOUND_FOR_DELETE[1]}])
    assert api.get(f"/classes/{class_name}/{private}", headers=alice.headers).json()["n"] == 1


@pytest.mark.parametrize("method, body", [
    ("PUT", {"n": 2}),
    ("PUT", {"ACL": {"*": {"read": True, "write": True}}}),
    ("DELETE", None),
])
@pytest.mark.parametrize("caller", ["bob", "anonymous"])
def test_writing_a_hidden_object_is_the_same_101_as_a_missing_one(
    api, alice, bob, class_name, private, method, body, caller,
):
    """PUT / DELETE (including taking over its ACL) of another user's private object."""
    headers = bob.headers if caller == "bob" else {}
    hidden = api.request(method, f"/classes/{class_name}/{private}", json=body, headers=headers)
    missing = api.request(method, f"/classes/{class_name}/{MISSING_ID}", json=body, headers=headers)
    assert _answer(hidden) == _answer(missing) == (NOT_FOUND_FOR_DELETE if method == "DELETE" else NOT_FOUND)
    still = api.get(f"/classes/{class_name}/{private}", headers=alice.headers).json()
    assert still["n"] == 1 and still["ACL"] == {alice.id: {"read": True, "write": True}}


@pytest.mark.parametrize("route", ["get", "find"])
def test_include_of_a_pointer_to_a_hidden_object_leaves_a_bare_pointer(api, bob, class_name, private,
                                                                        public_class, route):
    """include=p where p points at an object the caller may not read.

    Parse Server drops the key altogether; Parsnip keeps the bare pointer (the pointer itself is
    in the readable object, so it tells nothing new)."""
    found = api.get(f"/classes/{public_class}", params={"include": "p"}, headers=bob.headers).json()["results"]
    obj = found[0] if route == "find" else api.get(
        f"/classes/{public_class}/{found[0]['objectId']}", params={"include": "p"}, headers=bob.headers).json()
    assert obj["p"] == _pointer(class_name, private)
    assert "secret" not in json.dumps(obj)


@pytest.mark.parametrize("op, expected_hits", [
    ("$inQuery", 0), ("$notInQuery", 1), ("$select", 0), ("$dontSelect", 1),
])
def test_subqueries_into_a_hidden_class_ignore_its_hidden_objects(api, alice, bob, class_name, public_class,
                                                                   op, expected_hits):
    """$inQuery / $select into a class whose objects the caller may not read: those objects
    neither match nor exclude anything (alice, who may read them, gets the opposite)."""
    sub = {"className": class_name, "where": {}}
    cond = {"p": {op: sub}} if op.endswith("Query") else {"k": {op: {"query": sub, "key": "secret"}}}
    for user, hits in ((bob, expected_hits), (alice, 1 - expected_hits)):
        r = api.get(f"/classes/{public_class}", params=where(cond), headers=user.headers)
        assert r.status_code == 200 and len(r.json()["results"]) == hits


@pytest.mark.parametrize("caller", ["bob", "anonymous"])
@pytest.mark.parametrize("count", [False, True])
def test_related_to_through_a_hidden_owner_is_the_same_as_a_missing_owner(api, alice, bob, class_name, private,
                                                                           caller, count):
    """$relatedTo names alice's private object as the owner: its relation's (public) members
    stay out of reach, exactly as for an owner that does not exist; alice still gets them."""
    members = class_name + "Mem"
    ids = [api.post(f"/classes/{members}", headers=alice.headers, json={"n": i}).json()["objectId"]
           for i in range(2)]
    r = api.put(f"/classes/{class_name}/{private}", headers=alice.headers, json={
        "likes": {"__op": "AddRelation", "objects": [_pointer(members, i) for i in ids]}})
    assert r.status_code == 200, r.text

    def related(owner: str, headers: dict) -> httpx.Response:
        params = where({"$relatedTo": {"object": _pointer(class_name, owner), "key": "likes"}})
        if count:
            params["count"] = "1"
        return api.get(f"/classes/{members}", params=params, headers=headers)

    headers = bob.headers if caller == "bob" else {}
    hidden, missing = related(private, headers), related(MISSING_ID, headers)
    empty = {"results": [], "count": 0} if count else {"results": []}
    assert _answer(hidden) == _answer(missing) == (200, empty)
    mine = related(private, alice.headers).json()
    assert sorted(o["objectId"] for o in mine["results"]) == sorted(ids)


@pytest.mark.parametrize("params", [
    pytest.param(lambda a: where({"email": a.email}), id="where-email"),
    pytest.param(lambda a: where({"email": {"$regex": "^a"}}), id="where-email-regex"),
    pytest.param(lambda a: {**where({"email": {"$exists": True}}), "count": "1", "limit": "0"}, id="count-email"),
    pytest.param(lambda a: where({"$or": [{"email": a.email}, {"username": "x"}]}), id="or-email"),
    pytest.param(lambda a: {"order": "email"}, id="order-email"),
    pytest.param(lambda a: {"order": "-updatedAt,email"}, id="order-second-key"),
    pytest.param(lambda a: where({"_hashed_password": {"$exists": True}}), id="where-hashed-password"),
    pytest.param(lambda a: where({"sessionToken": {"$exists": True}}), id="where-session-token"),
])
def test_filtering_or_sorting_users_on_a_protected_field_is_refused(api, alice, bob, params):
    """where/order on another user's email (or an internal field) would leak it: 119.
    (Parse answers 105 "Invalid key name" for `_hashed_password`.)"""
    alice.email = api.get("/users/me", headers=alice.headers).json()["email"]
    r = api.get("/users", params=params(alice), headers=bob.headers)
    assert _answer(r) == (400, DENIED)


@pytest.mark.parametrize("cond", [
    pytest.param({"owner": {"$inQuery": {"className": "_User", "where": {"email": {"$exists": True}}}}}, id="inQuery"),
    pytest.param({"k": {"$select": {"query": {"className": "_User", "where": {}}, "key": "email"}}}, id="select"),
])
def test_subqueries_on_protected_fields_are_refused(api, alice, bob, class_name, cond):
    """$inQuery filtering users by email, $select of users' emails: 119.
    (Parse Server answers the $select with a 500.)"""
    api.post(f"/classes/{class_name}", json={"owner": _pointer("_User", alice.id), "k": "x"}, headers=alice.headers)
    assert _answer(api.get(f"/classes/{class_name}", params=where(cond), headers=bob.headers)) == (400, DENIED)


@pytest.mark.parametrize("params", [{"keys": "email"}, {"keys": "email,username"}, {}])
def test_keys_never_reveal_another_users_email(api, alice, bob, params):
    """GET /users/id?keys=email as another user: the email is simply absent."""
    r = api.get(f"/users/{alice.id}", params=params, headers=bob.headers)
    assert r.status_code == 200 and r.json()["objectId"] == alice.id
    assert not {"email", "_hashed_password", "sessionToken", "authData"} & set(r.json())
    own = api.get(f"/users/{alice.id}", params=params, headers=alice.headers).json()
    assert "@x.com" in own["email"]


@pytest.mark.parametrize("params", [{"include": "owner"}, {"keys": "owner.email"}])
def test_include_of_a_user_hides_their_email(api, alice, bob, class_name, params):
    """include / dotted keys through a pointer to another user."""
    r = api.post(f"/classes/{class_name}", json={"owner": _pointer("_User", alice.id)}, headers=alice.headers)
    got = api.get(f"/classes/{class_name}/{r.json()['objectId']}", params=params, headers=bob.headers).json()
    assert got["owner"]["objectId"] == alice.id and got["owner"]["__type"] == "Object"
    assert not {"email", "_hashed_password", "sessionToken", "authData"} & set(got["owner"])


@pytest.mark.parametrize("params", [
    {"pipeline": json.dumps([{"$match": {}}])},
    {"distinct": "secret"},
])
@pytest.mark.parametrize("caller", ["bob", "anonymous"])
def test_aggregate_and_distinct_need_the_master_key(api, bob, class_name, private, params, caller):
    """GET /aggregate/X (pipeline or distinct) without the master key."""
    r = api.get(f"/aggregate/{class_name}", params=params, headers=bob.headers if caller == "bob" else {})
    assert _answer(r) == (403, {"error": "Permission denied"})


# -- escalation ------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["_hashed_password", "_rperm", "_wperm", "_foo", "_email_verify_token",
                                   "_session_token", "_perishable_token"])
@pytest.mark.parametrize("target", ["own user", "new object", "own object"])
def test_underscore_fields_cannot_be_set(api, alice, class_name, field, target):
    """Setting `_hashed_password` or any other `_`-prefixed field: 105."""
    body = {field: "$2b$10$attackerchosenhashxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
    if target == "own user":
        r = api.put(f"/users/{alice.id}", json=body, headers=alice.headers)
    elif target == "new object":
        r = api.post(f"/classes/{class_name}", json=body, headers=alice.headers)
    else:
        oid = api.post(f"/classes/{class_name}", json={"n": 1}, headers=alice.headers).json()["objectId"]
        r = api.put(f"/classes/{class_name}/{oid}", json=body, headers=alice.headers)
    assert _answer(r) == (400, {"code": 105, "error": f"Invalid field name: {field}."})
    assert api.post("/login", json={"username": alice.username, "password": alice.password}).status_code == 200


@pytest.mark.parametrize("route", ["signup", "update", "update via /classes/_User"])
def test_clients_cannot_verify_their_own_email(api, alice, route):
    """emailVerified: true from a client: 119 (Parse's sanitized message is "Permission denied")."""
    body = {"emailVerified": True}
    if route == "signup":
        r = api.post("/users", json={"username": "u" + secrets.token_hex(5), "password": "pw", **body})
    elif route == "update":
        r = api.put(f"/users/{alice.id}", json=body, headers=alice.headers)
    else:
        r = api.put(f"/classes/_User/{alice.id}", json=body, headers=alice.headers)
    assert r.status_code == 400 and r.json()["code"] == 119
    assert "emailVerified" not in api.get("/users/me", headers=alice.headers).json()


def test_a_sessiontoken_field_on_a_user_is_no_session(api, alice):
    """PUT /users/me {sessionToken: forged}: accepted as Parse does, but it neither logs anyone
    in nor shows up in reads."""
    forged = "r:" + secrets.token_hex(16)
    assert api.put(f"/users/{alice.id}", json={"sessionToken": forged}, headers=alice.headers).status_code == 200
    assert _answer(api.get("/users/me", headers={"X-Parse-Session-Token": forged})) == INVALID_TOKEN
    assert api.get("/users/me", headers=alice.headers).json()["sessionToken"] == alice.token


@pytest.mark.parametrize("body", [
    {"sessionToken": "r:" + "0" * 32},
    {"user": {"__type": "Pointer", "className": "_User", "objectId": "BOB"}},
    {"expiresAt": {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}},
    {"createdWith": {"action": "signup"}},
])
@pytest.mark.parametrize("route", ["/sessions", "/classes/_Session"])
def test_own_session_fields_are_server_owned(api, alice, bob, body, route):
    """PUT on one's own _Session setting its token, user, expiry or createdWith: 119.
    (Parse answers 105 "Invalid key name".)"""
    body = json.loads(json.dumps(body).replace("BOB", bob.id))
    session = api.get("/sessions/me", headers=alice.headers).json()
    r = api.put(f"{route}/{session['objectId']}", json=body, headers=alice.headers)
    assert _answer(r) == (400, DENIED)
    assert api.get("/sessions/me", headers=alice.headers).json() == session


@pytest.mark.parametrize("body", [
    {"user": {"__type": "Pointer", "className": "_User", "objectId": "BOB"}},
    {"sessionToken": "r:" + "1" * 32},
])
@pytest.mark.parametrize("route", ["/sessions", "/classes/_Session"])
def test_no_session_for_another_user_or_with_a_chosen_token(api, parsnip_server, alice, bob, body, route):
    """POST /sessions naming another user or a token of one's choosing: 119.
    (Parse ignores those fields and creates a session for the caller instead.)"""
    body = json.loads(json.dumps(body).replace("BOB", bob.id))
    assert _answer(api.post(route, json=body, headers=alice.headers)) == (400, DENIED)
    bobs = api.get("/sessions", params=where({"user": _pointer("_User", bob.id)}),
                   headers=master(parsnip_server)).json()["results"]
    assert [s["createdWith"]["action"] for s in bobs] == ["signup"]
    if "sessionToken" in body:
        assert _answer(api.get("/users/me", headers={"X-Parse-Session-Token": body["sessionToken"]})) == INVALID_TOKEN


def test_anonymous_session_creation_needs_a_token(api):
    assert _answer(api.post("/sessions", json={})) == (400, {"code": 209, "error": "Session token required."})


@pytest.mark.parametrize("body", [{"nick": "hacked"}, {"ACL": {"*": {"read": True, "write": True}}},
                                  {"password": "taken-over"}, {"username": "taken"}])
@pytest.mark.parametrize("route", ["/users", "/classes/_User", "batch"])
def test_another_users_account_cannot_be_changed(api, alice, bob, body, route):
    """PUT on another user (fields, ACL, password, username), directly or in a batch: 206."""
    if route == "batch":
        r = api.post("/batch", headers=alice.headers,
                     json={"requests": [{"method": "PUT", "path": f"/parse/users/{bob.id}", "body": body}]})
        assert _answer(r) == (200, [{"error": {"code": 206, "error": "Permission denied"}}])
    else:
        assert _answer(api.put(f"{route}/{bob.id}", json=body, headers=alice.headers)) == (
            400, {"code": 206, "error": "Permission denied"})
    assert api.post("/login", json={"username": bob.username, "password": bob.password}).status_code == 200


def test_joining_a_role_one_may_not_write_is_101_and_grants_nothing(api, parsnip_server, bob, class_name):
    """PUT /roles/id AddRelation users [me] on a role whose ACL is public read only."""
    name = "R" + secrets.token_hex(4)
    role = api.post("/roles", json={"name": name, "ACL": {"*": {"read": True}}}, headers=master(parsnip_server))
    secret = api.post(f"/classes/{class_name}", json={"ACL": {f"role:{name}": {"read": True}}},
                      headers=master(parsnip_server)).json()["objectId"]
    join = {"users": {"__op": "AddRelation", "objects": [_pointer("_User", bob.id)]}}
    r = api.put(f"/roles/{role.json()['objectId']}", json=join, headers=bob.headers)
    assert _answer(r) == NOT_FOUND
    assert _answer(api.get(f"/classes/{class_name}/{secret}", headers=bob.headers)) == NOT_FOUND


def test_objectid_cannot_be_chosen_on_create(api, alice, class_name):
    """POST with objectId (allowCustomObjectId is off): 105."""
    r = api.post(f"/classes/{class_name}", json={"objectId": "abcdefghij"}, headers=alice.headers)
    assert _answer(r) == (400, {"code": 105, "error": "objectId is an invalid field name."})
    assert _answer(api.get(f"/classes/{class_name}/abcdefghij", headers=alice.headers)) == NOT_FOUND


def test_objectid_cannot_be_changed_on_update(api, alice, class_name):
    oid = api.post(f"/classes/{class_name}", json={"n": 1}, headers=alice.headers).json()["objectId"]
    r = api.put(f"/classes/{class_name}/{oid}", json={"objectId": "abcdefghij"}, headers=alice.headers)
    assert _answer(r) == (400, {"code": 105, "error": "objectId is an invalid field name."})


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_createdat_and_updatedat_cannot_be_forged(api, alice, class_name, method):
    """createdAt/updatedAt as Dates in a body are ignored: the server's times stand."""
    forged = {"__type": "Date", "iso": "2000-01-01T00:00:00.000Z"}
    body = {"createdAt": forged, "updatedAt": forged, "n": 2}
    if method == "POST":
        r = api.post(f"/classes/{class_name}", json=body, headers=alice.headers)
        oid = r.json()["objectId"]
    else:
        oid = api.post(f"/classes/{class_name}", json={"n": 1}, headers=alice.headers).json()["objectId"]
        r = api.put(f"/classes/{class_name}/{oid}", json=body, headers=alice.headers)
    assert r.status_code in (200, 201), r.text
    got = api.get(f"/classes/{class_name}/{oid}", headers=alice.headers).json()
    assert got["n"] == 2 and not got["createdAt"].startswith("2000") and not got["updatedAt"].startswith("2000")


# -- tokens ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/users/me", "/classes/Anything", "/sessions/me"])
def test_a_logged_out_token_is_dead_everywhere(api, alice, path):
    """Logout, then reuse the token: 209."""
    assert api.post("/logout", headers=alice.headers).json() == {}
    assert _answer(api.get(path, headers=alice.headers)) == INVALID_TOKEN


def test_a_deleted_users_token_is_dead(api, bob):
    """Delete one's user, then reuse its token: 209 (Parse's message is "Permission denied")."""
    assert api.delete(f"/users/{bob.id}", headers=bob.headers).json() == {}
    assert _answer(api.get("/users/me", headers=bob.headers)) == INVALID_TOKEN


@pytest.mark.parametrize("token", ["r:" + "0" * 32, "not-a-token", "r:"])
def test_an_unknown_token_is_refused(api, token):
    assert _answer(api.get("/classes/Anything", headers={"X-Parse-Session-Token": token})) == INVALID_TOKEN


@pytest.fixture
def short_sessions(fresh_dsn):
    """A server whose sessions last one second, with a read-only master key."""
    info = start_server(fresh_dsn, "--sessionLength", "1", "--readOnlyMasterKey", "read-only")
    with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as client:
        yield client
    stop_server(info)


def test_an_expired_token_is_refused(short_sessions):
    """A session older than sessionLength: 209."""
    user = signup(short_sessions)
    assert short_sessions.get("/users/me", headers=user.headers).status_code == 200
    time.sleep(1.5)
    r = short_sessions.get("/users/me", headers=user.headers)
    assert _answer(r) == (400, {"code": 209, "error": "Session token is expired."})
    assert short_sessions.get("/classes/Anything", headers=user.headers).json()["code"] == 209


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/classes/Thing", {"n": 1}),
    ("PUT", "/classes/Thing/OID", {"n": 2}),
    ("DELETE", "/classes/Thing/OID", None),
    ("POST", "/users", {"username": "ro-user", "password": "pw"}),
    ("POST", "/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Thing", "body": {}}]}),
])
def test_the_read_only_master_key_may_read_but_not_write(short_sessions, method, path, body):
    """The read-only master key on create/update/delete: 119, and nothing changes."""
    full = {"X-Parse-Master-Key": "test-master"}
    ro = {"X-Parse-Master-Key": "read-only"}
    oid = short_sessions.post("/classes/Thing", json={"n": 1, "ACL": {}}, headers=full).json()["objectId"]
    r = short_sessions.request(method, path.replace("OID", oid), json=body, headers=ro)
    if path == "/batch":
        assert r.status_code == 200 and r.json()[0]["error"]["code"] == 119
    else:
        assert (r.status_code, r.json()["code"]) == (400, 119)
    found = short_sessions.get("/classes/Thing", headers=ro).json()["results"]  # reads as master: ACL {} too
    assert [(o["objectId"], o["n"]) for o in found] == [(oid, 1)]


@pytest.fixture
def remote_master_only(fresh_dsn):
    info = start_server(fresh_dsn, "--masterKeyIps", "10.0.0.1")
    yield info
    stop_server(info)


@pytest.mark.parametrize("method, path", [("GET", "/classes/Thing"), ("POST", "/classes/Thing"),
                                          ("GET", "/aggregate/Thing"), ("GET", "/sessions")])
def test_the_master_key_from_a_non_allowed_address_is_refused(remote_master_only, method, path):
    """masterKeyIps 10.0.0.1, called from 127.0.0.1 with the master key: 403 unauthorized."""
    r = httpx.request(method, remote_master_only.url + path, json={} if method == "POST" else None, headers={
        "X-Parse-Application-Id": remote_master_only.app_id, "X-Parse-Master-Key": remote_master_only.master_key})
    assert _answer(r) == (403, {"error": "unauthorized"})
    plain = httpx.get(remote_master_only.url + "/classes/Thing",
                      headers={"X-Parse-Application-Id": remote_master_only.app_id})
    assert plain.status_code == 200  # the same address without the master key is served


@pytest.mark.parametrize("headers, master", [
    ({"x-parse-application-id": "app", "x-parse-master-key": "m"}, True),
    ({"x-parse-application-id": "app", "x-parse-master-key": "M"}, False),
    ({"x-parse-application-id": "app", "x-parse-master-key": "ro"}, True),
])
def test_keys_are_compared_in_constant_time(monkeypatch, headers, master):
    """Every key comparison goes through hmac.compare_digest (no early-exit string ==)."""
    compared: list[tuple[bytes, bytes]] = []
    real = request_module.hmac.compare_digest

    def recording(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(request_module.hmac, "compare_digest", recording)
    config = Config(appId="app", masterKey="m", readOnlyMasterKey="ro")
    req = request_module.read_request(config, "GET", "/classes/X", headers, {}, b"", "127.0.0.1")
    assert req.master is master
    assert (b"app", b"app") in compared
    assert (headers["x-parse-master-key"].encode(), b"m") in compared


# -- no leak through answers or timing -------------------------------------------------------

@pytest.mark.parametrize("field", ["username", "email"])
def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(api, alice, field):
    known = alice.username if field == "username" else api.get("/users/me", headers=alice.headers).json()["email"]
    unknown = "nobody" + secrets.token_hex(4) + ("@x.com" if field == "email" else "")
    answers = [_answer(api.post("/login", json={field: name, "password": "wrong"})) for name in (known, unknown)]
    assert answers[0] == answers[1] == (404, {"code": 101, "error": "Invalid username/password."})


def test_login_takes_as_long_for_an_unknown_user_as_for_a_wrong_password(api, alice):
    """Median of 15 logins each: an unknown username runs bcrypt too, so it is not much faster."""

    def median_login(username: str) -> float:
        times = []
        for _ in range(15):
            start = time.perf_counter()
            r = api.post("/login", json={"username": username, "password": "wrong"})
            times.append(time.perf_counter() - start)
            assert r.status_code == 404
        return statistics.median(times)

    median_login(alice.username)  # warm up
    existing = median_login(alice.username)
    unknown = median_login("nobody" + secrets.token_hex(4))
    assert unknown >= 0.5 * existing, (unknown, existing)
    assert existing >= 0.5 * unknown, (unknown, existing)


# -- roles -----------------------------------------------------------------------------------

def test_roles_inside_roles_grant_read_and_leaving_takes_effect_at_once(api, parsnip_server, alice, bob, class_name):
    """bob in role A, role B contains A: bob reads objects with ACL role:B; removed from A, the
    very next request no longer does (the role cache is invalidated by the role change)."""
    m = master(parsnip_server)
    a_name, b_name = "A" + secrets.token_hex(4), "B" + secrets.token_hex(4)
    role_a = api.post("/roles", headers=m, json={
        "name": a_name, "ACL": {"*": {"read": True}},
        "users": {"__op": "AddRelation", "objects": [_pointer("_User", bob.id)]}}).json()["objectId"]
    api.post("/roles", headers=m, json={
        "name": b_name, "ACL": {"*": {"read": True}},
        "roles": {"__op": "AddRelation", "objects": [_pointer("_Role", role_a)]}})
    oid = api.post(f"/classes/{class_name}", json={"v": 1, "ACL": {f"role:{b_name}": {"read": True}}},
                   headers=m).json()["objectId"]

    assert api.get(f"/classes/{class_name}/{oid}", headers=bob.headers).json()["v"] == 1
    assert [o["objectId"] for o in api.get(f"/classes/{class_name}", headers=bob.headers).json()["results"]] == [oid]
    assert _answer(api.get(f"/classes/{class_name}/{oid}", headers=alice.headers)) == NOT_FOUND

    leave = {"users": {"__op": "RemoveRelation", "objects": [_pointer("_User", bob.id)]}}
    assert api.put(f"/roles/{role_a}", json=leave, headers=m).status_code == 200
    assert _answer(api.get(f"/classes/{class_name}/{oid}", headers=bob.headers)) == NOT_FOUND
    assert api.get(f"/classes/{class_name}", headers=bob.headers).json() == {"results": []}


def test_a_role_grants_write_only_through_its_acl_entry(api, parsnip_server, bob, class_name):
    """role:R with read only: a member reads but may not update (101)."""
    m = master(parsnip_server)
    name = "W" + secrets.token_hex(4)
    api.post("/roles", headers=m, json={"name": name, "ACL": {},
                                        "users": {"__op": "AddRelation", "objects": [_pointer("_User", bob.id)]}})
    oid = api.post(f"/classes/{class_name}", json={"v": 1, "ACL": {f"role:{name}": {"read": True}}},
                   headers=m).json()["objectId"]
    assert api.get(f"/classes/{class_name}/{oid}", headers=bob.headers).status_code == 200
    assert _answer(api.put(f"/classes/{class_name}/{oid}", json={"v": 2}, headers=bob.headers)) == NOT_FOUND
