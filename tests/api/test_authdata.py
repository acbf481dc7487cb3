"""authData: anonymous users and an OAuth2 provider, as Parse Server 9.10 answers them (codes,
messages and shapes checked against it for anonymous; the OAuth2 messages are its adapter's).

The provider is a real HTTP server in this process (RFC 7662 token introspection); the
Parsnip server is a real process that calls it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest

from tests.api.users_helpers import signup
from tests.conftest import _admin_sql, _free_port, _with_database, start_server, stop_server

CLIENT_AUTH = "Basic cGFyc25pcDpzZWNyZXQ="
APP = "parsnip-app"


class Provider:
    """Token introspection: tokens[token] is what the endpoint answers for it."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict] = {}
        self.calls = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                provider.calls += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if self.headers.get("Authorization") != CLIENT_AUTH:
                    return self._answer(401, {"error": "invalid_client"})
                if self.path == "/broken":
                    return self._answer(500, {"error": "server_error"})
                token = (form.get("token") or [""])[0]
                self._answer(200, provider.tokens.get(token, {"active": False}))

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def issue(self, sub: str, aud: str = APP, expires_in: int = 3600, active: bool = True) -> str:
        token = "at-" + secrets.token_hex(8)
        self.tokens[token] = {"active": active, "sub": sub, "aud": aud, "exp": int(time.time()) + expires_in}
        return token


@pytest.fixture(scope="module")
def provider():
    p = Provider()
    yield p
    p.http.shutdown()


@pytest.fixture(scope="module")
def server(admin_dsn, provider):
    name = "parsnip_a_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    common = {"oauth2": True, "authorizationHeader": CLIENT_AUTH}
    auth = {
        "corp": {**common, "tokenIntrospectionEndpointUrl": provider.url + "/introspect",
                 "appidField": "aud", "appIds": [APP]},
        "broken": {**common, "tokenIntrospectionEndpointUrl": provider.url + "/broken"},
        "down": {**common, "tokenIntrospectionEndpointUrl": f"http://127.0.0.1:{_free_port()}/introspect"},
        "off": {**common, "tokenIntrospectionEndpointUrl": provider.url + "/introspect", "enabled": False},
    }
    info = start_server(_with_database(admin_dsn, name), "--auth", json.dumps(auth))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
        yield c


def _master(server) -> dict[str, str]:
    return {"X-Parse-Master-Key": server.master_key}


def _session(api, token: str) -> dict:
    return api.get("/sessions/me", headers={"X-Parse-Session-Token": token}).json()


def _error(r) -> tuple[int, int, str]:
    return r.status_code, r.json().get("code"), r.json().get("error")


# -- anonymous ------------------------------------------------------------------------------------

def test_anonymous_signup_then_login_with_the_same_id(api, server):
    anon = {"anonymous": {"id": str(uuid.uuid4())}}
    r = api.post("/users", json={"authData": anon})
    assert r.status_code == 201, r.text
    first = r.json()
    assert set(first) == {"objectId", "createdAt", "username", "sessionToken", "authDataResponse"}
    assert len(first["username"]) == 25 and first["username"].isalnum()
    assert r.headers["location"].endswith(f"/users/{first['objectId']}")
    assert _session(api, first["sessionToken"])["createdWith"] == {"action": "login", "authProvider": "anonymous"}

    r = api.post("/users", json={"authData": anon})
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["objectId"] == first["objectId"] and again["username"] == first["username"]
    assert again["authData"] == anon and again["authDataResponse"] == {}
    assert again["sessionToken"] != first["sessionToken"]
    # Nobody else sees authData; the master key does.
    other = signup(api)
    seen = api.get(f"/users/{first['objectId']}", headers=other.headers)
    assert seen.status_code != 200 or "authData" not in seen.json()
    assert api.get(f"/users/{first['objectId']}", headers=_master(server)).json()["authData"] == anon


def test_anonymous_user_signs_up_with_a_password_as_the_js_sdk_does(api):
    anon = {"anonymous": {"id": str(uuid.uuid4())}}
    user = api.post("/users", json={"authData": anon}).json()
    headers = {"X-Parse-Session-Token": user["sessionToken"]}
    name = "real" + secrets.token_hex(4)
    # The SDK's signUp() of a current anonymous user sends authData.anonymous = null.
    r = api.put(f"/users/{user['objectId']}", headers=headers,
                json={"username": name, "password": "pw", "authData": {"anonymous": None}})
    assert r.status_code == 200, r.text
    me = api.get("/users/me", headers=headers).json()
    assert me["username"] == name and "authData" not in me
    assert api.post("/login", json={"username": name, "password": "pw"}).status_code == 200
    # The anonymous id no longer finds them: it signs up someone new.
    assert api.post("/users", json={"authData": anon}).status_code == 201


@pytest.mark.parametrize("auth_data, status, code, message", [
    ({"anonymous": {"id": 5}}, 400, 162, "Invalid authData id for provider 'anonymous'."),
    ({"anonymous": {"token": "x"}}, 400, 250, "authData.anonymous.id is missing."),
    ({"nosuch": {"id": "x"}}, 400, 252, "This authentication method is unsupported."),
    ({"off": {"id": "x", "access_token": "t"}}, 400, 252, "This authentication method is unsupported."),
    ({"anonymous": {}}, 400, 200, "bad or missing username"),  # no data at all: an ordinary signup
    ({"anonymous": None}, 400, 200, "bad or missing username"),
])
def test_bad_auth_data_on_signup(api, auth_data, status, code, message):
    assert _error(api.post("/users", json={"authData": auth_data})) == (status, code, message)


# -- an OAuth2 provider ---------------------------------------------------------------------------

def test_provider_signup_then_login_calls_the_provider(api, provider):
    sub = "emp-" + secrets.token_hex(4)
    calls = provider.calls
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": provider.issue(sub)}}})
    assert r.status_code == 201, r.text
    user = r.json()
    assert provider.calls > calls
    assert _session(api, user["sessionToken"])["createdWith"] == {"action": "login", "authProvider": "corp"}

    token = provider.issue(sub)
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": token}}})
    assert r.status_code == 200, r.text
    assert r.json()["objectId"] == user["objectId"]
    assert r.json()["authData"]["corp"] == {"id": sub, "access_token": token}  # the newest token is kept


@pytest.mark.parametrize("make, message", [
    (lambda p, sub: "never-issued", "OAuth2 access token is invalid for this user."),
    (lambda p, sub: p.issue(sub, active=False), "OAuth2 access token is invalid for this user."),
    (lambda p, sub: p.issue(sub, expires_in=-10), "OAuth2 access token is invalid for this user."),
    (lambda p, sub: p.issue("someone-else"), "OAuth2 access token is invalid for this user."),
    (lambda p, sub: p.issue(sub, aud="other-app"), "OAuth2: Invalid app ID."),
])
def test_tokens_the_provider_does_not_vouch_for_are_101(api, provider, make, message):
    sub = "emp-" + secrets.token_hex(4)
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": make(provider, sub)}}})
    assert _error(r) == (404, 101, message)


@pytest.mark.parametrize("name", ["down", "broken"])
def test_provider_unreachable_or_failing_is_101_not_500(api, name):
    r = api.post("/users", json={"authData": {name: {"id": "x", "access_token": "t"}}})
    assert _error(r) == (404, 101, "OAuth2 token introspection request failed.")


# -- linking and unlinking ------------------------------------------------------------------------

def test_link_208_and_unlink(api, provider):
    alice, bob = signup(api), signup(api)
    sub = "emp-" + secrets.token_hex(4)
    corp = {"corp": {"id": sub, "access_token": provider.issue(sub)}}

    r = api.put(f"/users/{alice.id}", headers=alice.headers, json={"authData": corp})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"updatedAt", "authDataResponse"}
    anon = {"anonymous": {"id": str(uuid.uuid4())}}
    assert api.put(f"/users/{alice.id}", headers=alice.headers, json={"authData": anon}).status_code == 200
    me = api.get("/users/me", headers=alice.headers).json()
    assert me["authData"] == {**corp, **anon}

    # The provider's user logs in as alice now.
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": provider.issue(sub)}}})
    assert (r.status_code, r.json()["objectId"]) == (200, alice.id)

    # Bob may not take it, nor log in with ids of two different users.
    r = api.put(f"/users/{bob.id}", headers=bob.headers,
                json={"authData": {"corp": {"id": sub, "access_token": provider.issue(sub)}}})
    assert _error(r) == (400, 208, "this auth is already used")
    bob_anon = {"anonymous": {"id": str(uuid.uuid4())}}
    assert api.put(f"/users/{bob.id}", headers=bob.headers, json={"authData": bob_anon}).status_code == 200
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": provider.issue(sub)}, **bob_anon}})
    assert _error(r) == (400, 208, "this auth is already used")

    # Nor may anyone link to someone else's account.
    r = api.put(f"/users/{alice.id}", headers=bob.headers, json={"authData": {"anonymous": {"id": "x" + sub}}})
    assert r.status_code == 400 and r.json()["code"] == 206

    # Unlinking one provider keeps the other; unlinking the last removes authData.
    r = api.put(f"/users/{alice.id}", headers=alice.headers, json={"authData": {"corp": None, "nosuch": None}})
    assert r.status_code == 200, r.text
    assert api.get("/users/me", headers=alice.headers).json()["authData"] == anon
    assert api.put(f"/users/{alice.id}", headers=alice.headers, json={"authData": {"anonymous": None}}).status_code == 200
    assert "authData" not in api.get("/users/me", headers=alice.headers).json()

    # Now bob may link it, and it logs bob in.
    token = provider.issue(sub)
    assert api.put(f"/users/{bob.id}", headers=bob.headers,
                   json={"authData": {"corp": {"id": sub, "access_token": token}}}).status_code == 200
    r = api.post("/users", json={"authData": {"corp": {"id": sub, "access_token": token}}})
    assert r.json()["objectId"] == bob.id


@pytest.mark.parametrize("auth_data, status, code", [
    ({"nosuch": {"id": "x"}}, 400, 252),
    ("x", 400, 252),
    (None, 400, 252),
    ({"corp": {"id": "x", "access_token": "never-issued"}}, 404, 101),
])
def test_bad_links(api, auth_data, status, code):
    user = signup(api)
    r = api.put(f"/users/{user.id}", headers=user.headers, json={"authData": auth_data})
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert "authData" not in api.get("/users/me", headers=user.headers).json()


def test_a_provider_id_is_unique_even_when_two_signups_race(api, server):
    """Eight simultaneous first logins with one id make one user; the others log in or get 208."""
    anon = {"anonymous": {"id": str(uuid.uuid4())}}
    results: list[httpx.Response] = []

    def go() -> None:
        with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
            results.append(c.post("/users", json={"authData": anon}))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r.json()["objectId"] for r in results if r.status_code in (200, 201)]
    assert len(set(ok)) == 1 and [r.status_code for r in results].count(201) == 1
    assert all(r.json()["code"] == 208 for r in results if r.status_code not in (200, 201))
    found = api.get("/users", params={"where": json.dumps({"authData.anonymous.id": anon["anonymous"]["id"]})},
                    headers=_master(server)).json()
    assert len(found["results"]) == 1
