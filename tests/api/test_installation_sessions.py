"""One installation, one session (Parse's `destroyDuplicatedSessions`, read from the reference
Parse Server 9.10): a new session of a user from an installation ends that user's earlier
sessions on the same installation, whichever way it was made; other installations' and
installation-less sessions stay."""

from __future__ import annotations

import secrets

import pytest

from tests.api.users_helpers import master, where


def _sessions(api, info, user_id: str) -> dict[str, str | None]:
    """token -> installationId of every session of the user."""
    ptr = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    found = api.get("/sessions", params=where({"user": ptr}), headers=master(info)).json()["results"]
    return {s["sessionToken"]: s.get("installationId") for s in found}


def _login(api, name: str, installation: str | None) -> str:
    headers = {"X-Parse-Installation-Id": installation} if installation else {}
    r = api.get("/login", params={"username": name, "password": "pw"}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["sessionToken"]


@pytest.mark.parametrize("again", ["login", "loginAs", "sessions"])
def test_a_new_session_from_the_same_installation_ends_the_old_one(api, parsnip_server, again):
    name = "i" + secrets.token_hex(5)
    r = api.post("/users", json={"username": name, "password": "pw"}, headers={"X-Parse-Installation-Id": "dev-1"})
    user_id, signup_token = r.json()["objectId"], r.json()["sessionToken"]
    other = _login(api, name, "dev-2")
    plain = _login(api, name, None)
    if again == "login":
        new = _login(api, name, "dev-1")
    elif again == "loginAs":
        new = api.post("/loginAs", json={"userId": user_id},
                       headers={**master(parsnip_server), "X-Parse-Installation-Id": "dev-1"}).json()["sessionToken"]
    else:
        r = api.post("/sessions", json={}, headers={"X-Parse-Session-Token": signup_token,
                                                     "X-Parse-Installation-Id": "dev-1"})
        assert r.status_code == 201, r.text
        new = r.json()["sessionToken"]
    assert _sessions(api, parsnip_server, user_id) == {new: "dev-1", other: "dev-2", plain: None}
    r = api.get("/users/me", headers={"X-Parse-Session-Token": signup_token})
    assert (r.status_code, r.json()) == (400, {"code": 209, "error": "Invalid session token"})
    assert api.get("/users/me", headers={"X-Parse-Session-Token": new}).json()["objectId"] == user_id


def test_logins_without_an_installation_keep_each_other(api, parsnip_server):
    name = "i" + secrets.token_hex(5)
    user_id = api.post("/users", json={"username": name, "password": "pw"}).json()["objectId"]
    tokens = {_login(api, name, None) for _ in range(2)}
    assert set(_sessions(api, parsnip_server, user_id)) >= tokens
