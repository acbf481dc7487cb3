"""GET/POST /verifyPassword and POST /loginAs, as Parse Server 9.10 answers them (each status,
code and shape below was read from the reference server): a password checked as a login checks
it, with no session made; the master key opening a session for any user."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.api.test_email_flows import server_with_mail
from tests.api.test_password_policy import LOCKED, server
from tests.api.users_helpers import master, signup, where

INVALID = {"code": 101, "error": "Invalid username/password."}
TOKEN = re.compile(r"^r:[0-9a-f]{32}$")


def _name() -> str:
    return "v" + secrets.token_hex(5)


def _sessions(api, info, user_id: str) -> list[dict]:
    ptr = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    return api.get("/sessions", params=where({"user": ptr}), headers=master(info)).json()["results"]


@pytest.fixture
def user(api):
    name = _name()
    return signup(api, username=name, password="pw1", email=f"{name}@x.com")


@pytest.mark.parametrize("how", ["get-username", "post-username", "post-email", "username-is-the-email",
                                 "username-and-email"])
def test_the_right_password_answers_the_user_and_makes_no_session(api, parsnip_server, user, how):
    email = f"{user.username}@x.com"
    creds = {"get-username": {"username": user.username}, "post-username": {"username": user.username},
             "post-email": {"email": email}, "username-is-the-email": {"username": email},
             "username-and-email": {"username": user.username, "email": email}}[how]
    creds["password"] = "pw1"
    r = api.get("/verifyPassword", params=creds) if how.startswith("get") else api.post("/verifyPassword", json=creds)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"objectId", "createdAt", "updatedAt", "username", "email", "ACL"}
    assert (body["objectId"], body["username"], body["email"]) == (user.id, user.username, email)
    assert body["ACL"] == {user.id: {"read": True, "write": True}}
    assert len(_sessions(api, parsnip_server, user.id)) == 1  # the signup's only


@pytest.mark.parametrize("creds, status, answer", [
    ({"password": "bad"}, 404, INVALID),
    ({"drop": "username", "password": "pw1"}, 400, {"code": 200, "error": "username/email is required."}),
    ({"username": ""}, 400, {"code": 200, "error": "username/email is required."}),
    ({"drop": "password"}, 400, {"code": 201, "error": "password is required."}),
    ({"password": ""}, 400, {"code": 201, "error": "password is required."}),
    ({"password": 5}, 404, INVALID),
    ({"username": 5, "password": "pw1"}, 404, INVALID),
    ({"email": 5, "password": "pw1"}, 404, INVALID),
    ({"email": "other@x.com", "password": "pw1"}, 404, INVALID),  # a username and someone else's email
    ({"username": "nobody-at-all", "password": "pw1"}, 404, INVALID),
], ids=["wrong-password", "no-username", "empty-username", "no-password",
        "empty-password", "password-not-a-string", "username-not-a-string", "email-not-a-string",
        "email-of-no-one", "unknown-user"])
def test_refusals_are_parses(api, user, creds, status, answer):
    body = {"username": user.username, "password": "pw1", **{k: v for k, v in creds.items() if k != "drop"}}
    if "drop" in creds:
        body.pop(creds["drop"])
    r = api.post("/verifyPassword", json=body)
    assert (r.status_code, r.json()) == (status, answer)


def test_an_empty_acl_locks_the_user_out_except_for_the_master_key(api, parsnip_server, user):
    assert api.put(f"/users/{user.id}", json={"ACL": {}}, headers=master(parsnip_server)).status_code == 200
    creds = {"username": user.username, "password": "pw1"}
    assert (r := api.get("/verifyPassword", params=creds)).status_code == 404 and r.json() == INVALID
    assert api.get("/login", params=creds).json() == INVALID
    assert api.get("/verifyPassword", params=creds, headers=master(parsnip_server)).json()["objectId"] == user.id


def test_unverified_email_is_refused_when_logins_need_it(fresh_dsn):
    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true", "--preventLoginWithUnverifiedEmail", "true") as (
            info, api, inbox):
        name = _name()
        signup(api, username=name, password="pw1", email=f"{name}@x.com")
        unverified = (400, {"code": 205, "error": "User email is not verified."})
        r = api.post("/verifyPassword", json={"username": name, "password": "pw1"})
        assert (r.status_code, r.json()) == unverified
        # The SDKs' ignoreEmailVerification: the master key's only, for a check and a login.
        skip = {"username": name, "password": "pw1", "ignoreEmailVerification": True}
        r = api.post("/verifyPassword", json=skip)
        assert (r.status_code, r.json()) == unverified
        assert api.post("/verifyPassword", json=skip, headers=master(info)).json()["username"] == name
        assert TOKEN.match(api.post("/login", json=skip, headers=master(info)).json()["sessionToken"])


def test_a_locked_account_is_refused_and_wrong_checks_count_towards_it(fresh_dsn):
    with server(fresh_dsn, "--accountLockout", json.dumps({"duration": 5, "threshold": 2})) as (info, api):
        name = _name()
        signup(api, username=name, password="right")
        for _ in range(2):
            assert api.get("/verifyPassword", params={"username": name, "password": "wrong"}).json() == INVALID
        r = api.get("/verifyPassword", params={"username": name, "password": "right"})
        assert (r.status_code, r.json()) == (404, LOCKED)


# -- /loginAs -------------------------------------------------------------------------------------

def test_login_as_opens_a_session_for_the_user(api, parsnip_server, user):
    r = api.post("/loginAs", json={"userId": user.id}, headers={**master(parsnip_server),
                                                                 "X-Parse-Installation-Id": "inst-la"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"objectId", "createdAt", "updatedAt", "username", "email", "ACL", "sessionToken"}
    assert body["objectId"] == user.id and TOKEN.match(body["sessionToken"])
    me = api.get("/users/me", headers={"X-Parse-Session-Token": body["sessionToken"]}).json()
    assert me["objectId"] == user.id
    [made] = [s for s in _sessions(api, parsnip_server, user.id) if s["sessionToken"] == body["sessionToken"]]
    assert made["createdWith"] == {"action": "login", "authProvider": "masterkey"}
    assert made["installationId"] == "inst-la"


@pytest.mark.parametrize("body, as_master, status, answer", [
    ({"userId": "{id}"}, False, 400, {"code": 119, "error": "Permission denied"}),
    ({}, True, 400, {"code": 162, "error": "userId must not be empty, null, or undefined"}),
    ({"userId": ""}, True, 400, {"code": 162, "error": "userId must not be empty, null, or undefined"}),
    ({"userId": "nope"}, True, 404, {"code": 101, "error": "user not found"}),
    ({"userId": 5}, True, 404, {"code": 101, "error": "user not found"}),  # parse: 500
], ids=["without-master-key", "no-user-id", "empty-user-id", "unknown-user", "user-id-not-a-string"])
def test_login_as_refusals(api, parsnip_server, user, body, as_master, status, answer):
    body = {k: (v.replace("{id}", user.id) if isinstance(v, str) else v) for k, v in body.items()}
    r = api.post("/loginAs", json=body, headers=master(parsnip_server) if as_master else {})
    assert (r.status_code, r.json()) == (status, answer)
    assert len(_sessions(api, parsnip_server, user.id)) == 1
