"""Signup, login, logout, /users/me, sessions and a user's own object, as Parse Server 9.10
answers them (each status and code below was checked against it)."""

from __future__ import annotations

import re
import secrets

import pytest

from tests.api.users_helpers import master, signup, where

TOKEN = re.compile(r"^r:[0-9a-f]{32}$")


def _name() -> str:
    return "u" + secrets.token_hex(5)


def test_signup_answers_201_with_a_session_token_and_never_the_password(api, parsnip_server):
    name = _name()
    r = api.post("/users", json={"username": name, "password": "secret", "email": f"{name}@x.com"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"objectId", "createdAt", "sessionToken"}
    assert TOKEN.match(body["sessionToken"])
    assert r.headers["location"].endswith(f"/users/{body['objectId']}")
    me = api.get(f"/users/{body['objectId']}", headers=master(parsnip_server)).json()
    assert me["username"] == name and me["email"] == f"{name}@x.com"
    assert not {"password", "_hashed_password", "sessionToken"} & set(me)
    # enforcePrivateUsers (Parse's default): only the user may read or write it.
    assert me["ACL"] == {body["objectId"]: {"read": True, "write": True}}


@pytest.mark.parametrize("body, code, message", [
    ({"password": "pw"}, 200, "bad or missing username"),
    ({"username": "", "password": "pw"}, 200, "bad or missing username"),
    ({"username": "someone"}, 201, "password is required"),
    ({"username": "someone", "password": ""}, 201, "password is required"),
    ({"username": "someone", "password": "pw", "email": "not-an-email"}, 125, "Email address format is invalid."),
    ({"username": "someone", "password": "pw", "emailVerified": True}, 119,
     "Clients aren't allowed to manually update email verification."),
])
def test_bad_signups(api, body, code, message):
    r = api.post("/users", json=body)
    assert (r.status_code, r.json()) == (400, {"code": code, "error": message})


def test_usernames_and_emails_are_unique_ignoring_case(api):
    name = _name()
    signup(api, username=name, email=f"{name}@x.com")
    r = api.post("/users", json={"username": name.upper(), "password": "pw"})
    assert r.json() == {"code": 202, "error": "Account already exists for this username."}
    r = api.post("/users", json={"username": _name(), "password": "pw", "email": f"{name.upper()}@X.com"})
    assert r.json() == {"code": 203, "error": "Account already exists for this email address."}


def test_login_by_post_and_get_and_by_email(api):
    name = _name()
    user = signup(api, username=name, password="pw1", email=f"{name}@x.com")
    for r in (
        api.post("/login", json={"username": name, "password": "pw1"}),
        api.get("/login", params={"username": name, "password": "pw1"}),
        api.post("/login", json={"email": f"{name}@x.com", "password": "pw1"}),
    ):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["objectId"] == user.id and body["username"] == name
        assert TOKEN.match(body["sessionToken"]) and body["sessionToken"] != user.token
        assert "_hashed_password" not in body and "password" not in body


@pytest.mark.parametrize("body, status, code, message", [
    ({"username": "nobody-here", "password": "x"}, 404, 101, "Invalid username/password."),
    ({"password": "x"}, 400, 200, "username/email is required."),
    ({"username": "someone"}, 400, 201, "password is required."),
])
def test_bad_logins(api, body, status, code, message):
    r = api.post("/login", json=body)
    assert (r.status_code, r.json()) == (status, {"code": code, "error": message})


def test_wrong_password_is_the_same_answer_as_an_unknown_user(api):
    user = signup(api)
    wrong = api.post("/login", json={"username": user.username, "password": "wrong"})
    unknown = api.post("/login", json={"username": _name(), "password": "wrong"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json() == {"code": 101, "error": "Invalid username/password."}


def test_me_and_logout(api):
    user = signup(api)
    me = api.get("/users/me", headers=user.headers)
    assert me.status_code == 200 and me.json()["objectId"] == user.id
    assert me.json()["sessionToken"] == user.token
    assert api.get("/users/me").json() == {"code": 209, "error": "Invalid session token"}
    assert api.post("/logout", headers=user.headers).json() == {}
    r = api.get("/users/me", headers=user.headers)
    assert (r.status_code, r.json()) == (400, {"code": 209, "error": "Invalid session token"})
    r = api.get("/classes/Anything", headers=user.headers)  # a dead token is refused on every route
    assert r.json()["code"] == 209


def test_sessions_list_only_ones_own(api, parsnip_server):
    alice, bob = signup(api), signup(api)
    api.post("/login", json={"username": alice.username, "password": alice.password})
    mine = api.get("/sessions", headers=alice.headers).json()["results"]
    assert len(mine) == 2
    assert all(s["user"]["objectId"] == alice.id for s in mine)
    assert {s["createdWith"]["action"] for s in mine} == {"signup", "login"}
    current = api.get("/sessions/me", headers=alice.headers).json()
    assert current["sessionToken"] == alice.token and "expiresAt" in current
    other = api.get(f"/sessions/{current['objectId']}", headers=bob.headers)
    assert other.status_code == 404
    assert api.get("/sessions").json() == {"code": 209, "error": "Session token required."}


def test_a_user_changes_only_themself(api):
    alice, bob = signup(api), signup(api)
    r = api.put(f"/users/{bob.id}", json={"nick": "hacked"}, headers=alice.headers)
    assert (r.status_code, r.json()["code"]) == (400, 206)
    r = api.put(f"/users/{bob.id}", json={"nick": "hacked"})
    assert r.json()["code"] == 206
    r = api.delete(f"/users/{bob.id}", headers=alice.headers)
    assert r.json() == {"code": 206, "error": "Insufficient auth to delete user"}
    assert api.put(f"/users/{alice.id}", json={"nick": "me"}, headers=alice.headers).status_code == 200


def test_password_change_logs_in_with_the_new_one_and_ends_other_sessions(api):
    user = signup(api, password="old")
    other = api.post("/login", json={"username": user.username, "password": "old"}).json()["sessionToken"]
    assert api.put(f"/users/{user.id}", json={"password": "new"}, headers=user.headers).status_code == 200
    assert api.post("/login", json={"username": user.username, "password": "old"}).status_code == 404
    assert api.post("/login", json={"username": user.username, "password": "new"}).status_code == 200
    assert api.get("/users/me", headers={"X-Parse-Session-Token": other}).json()["code"] == 209
    assert api.get("/users/me", headers=user.headers).status_code == 200  # the session that changed it


def test_deleting_a_user_ends_its_sessions(api):
    user = signup(api)
    assert api.delete(f"/users/{user.id}", headers=user.headers).json() == {}
    assert api.get("/users/me", headers=user.headers).json()["code"] == 209


def test_others_never_see_email_password_or_auth_data(api, parsnip_server):
    alice = signup(api, email=_name() + "@x.com", ACL={"*": {"read": True}})
    bob = signup(api)
    seen = api.get(f"/users/{alice.id}", headers=bob.headers).json()
    assert seen["username"] == alice.username
    assert not {"email", "password", "_hashed_password", "authData", "sessionToken"} & set(seen)
    own = api.get(f"/users/{alice.id}", headers=alice.headers).json()
    assert "email" in own
    # Filtering on a hidden field would reveal it: refused.
    r = api.get("/users", params=where({"email": {"$regex": "^a"}}), headers=bob.headers)
    assert (r.status_code, r.json()["code"]) == (400, 119)


def test_a_password_longer_than_bcrypts_72_bytes_works_as_in_parse(api):
    """bcrypt reads 72 bytes; Parse Server's bcryptjs ignores the rest, so signup and login with
    a long passphrase work (they answered 500), and its first 72 bytes are what count."""
    password = "correct horse battery staple " * 4  # 116 bytes
    user = signup(api, password=password)
    for given, status in ((password, 200), (password[:72] + "anything", 200), (password[:71], 404)):
        r = api.get("/login", params={"username": user.username, "password": given})
        assert r.status_code == status, r.text
