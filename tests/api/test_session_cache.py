"""A node keeps the sessions it has looked up (api/runtime.py: authenticate, SessionCache), so a
logged-in user's request costs no lookup; a session that ends stops working at once on the node
that ended it and, as soon as the event reaches it, on every other node: logout, a revoked
session, a deleted user."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import start_server, stop_server

APP, MASTER = "test-app", "test-master"


@pytest.fixture
def two_nodes(fresh_dsn):
    nodes = [start_server(fresh_dsn), start_server(fresh_dsn)]
    clients = [httpx.Client(base_url=n.url, headers={"X-Parse-Application-Id": APP}, timeout=10) for n in nodes]
    yield clients
    for client in clients:
        client.close()
    for node in nodes:
        stop_server(node)


def _me(client: httpx.Client, token: str) -> int:
    return client.get("/users/me", headers={"X-Parse-Session-Token": token}).status_code


def _refused_soon(client: httpx.Client, token: str) -> None:
    deadline = time.monotonic() + 5
    while _me(client, token) != 209 and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.get("/users/me", headers={"X-Parse-Session-Token": token})
    assert (response.status_code, response.json()["code"]) == (400, 209)


def _signup(client: httpx.Client, name: str) -> dict:
    response = client.post("/users", json={"username": name, "password": "pw-1234"})
    assert response.status_code == 201, response.text
    return response.json()


def _both_know(clients, token: str) -> None:
    assert [_me(c, token) for c in clients] == [200, 200]  # looked up, and kept, on both nodes


def test_a_logout_ends_the_session_on_every_node(two_nodes):
    a, b = two_nodes
    token = _signup(a, "ann")["sessionToken"]
    _both_know(two_nodes, token)
    assert a.post("/logout", headers={"X-Parse-Session-Token": token}).status_code == 200
    assert _me(a, token) == 400  # at once where it was ended
    _refused_soon(b, token)


def test_a_deleted_session_or_user_ends_it_on_every_node(two_nodes):
    a, b = two_nodes
    master = {"X-Parse-Master-Key": MASTER}
    user = _signup(a, "bob")
    token = user["sessionToken"]
    _both_know(two_nodes, token)
    session = b.get("/sessions", headers=master, params={"where": '{"sessionToken": "%s"}' % token}).json()["results"][0]
    assert b.delete(f"/sessions/{session['objectId']}", headers=master).status_code == 200
    assert _me(b, token) == 400
    _refused_soon(a, token)

    other = _signup(a, "cat")
    _both_know(two_nodes, other["sessionToken"])
    assert b.delete(f"/users/{other['objectId']}", headers=master).status_code == 200
    _refused_soon(a, other["sessionToken"])
    _refused_soon(b, other["sessionToken"])
