"""POST /batch: each batched request is its own service call and fails alone, whatever fails."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest

from parsnip.core import layout
from tests.conftest import _admin_sql, start_server, stop_server


@pytest.fixture
def own_server(fresh_dsn):
    info = start_server(fresh_dsn)
    yield info
    stop_server(info)


def test_an_unexpected_failure_in_one_request_is_its_own_error_and_the_others_commit(own_server):
    """A fault no client input explains (PostgreSQL refusing a row: a constraint added behind the
    server's back) in one batched request is that request's {"code": 1}, logged once with the
    request id; the requests beside it succeed and are committed."""
    broken, fine = "B" + secrets.token_hex(4), "F" + secrets.token_hex(4)
    headers = {"X-Parse-Application-Id": own_server.app_id, "X-Parse-Master-Key": own_server.master_key}
    with httpx.Client(base_url=own_server.url, timeout=30, headers=headers) as http:
        oid = http.post(f"/classes/{broken}", json={"n": 1}).json()["objectId"]
        existing = http.post(f"/classes/{fine}", json={"n": 0}).json()["objectId"]
        _admin_sql(own_server.dsn, f"ALTER TABLE {layout.table(broken)} ADD CONSTRAINT no_writes CHECK (false) NOT VALID")
        rid = "rid-" + secrets.token_hex(6)
        r = http.post("/batch", headers={"X-Parse-Request-Id": rid}, json={"requests": [
            {"method": "POST", "path": f"/parse/classes/{fine}", "body": {"n": 1}},
            {"method": "PUT", "path": f"/parse/classes/{broken}/{oid}", "body": {"n": 2}},
            {"method": "PUT", "path": f"/parse/classes/{fine}/{existing}", "body": {"n": 5}},
            {"method": "GET", "path": f"/parse/classes/{fine}/{existing}"},
        ]})
        assert r.status_code == 200, r.text
        created, failed, updated, got = r.json()
        assert failed == {"error": {"code": 1, "error": "Internal server error."}}
        assert set(created["success"]) == {"objectId", "createdAt"} and set(updated["success"]) == {"updatedAt"}
        assert got["success"]["objectId"] == existing
        # The others were committed; the failed one changed nothing.
        stored = http.get(f"/classes/{fine}", params={"order": "n"}).json()["results"]
        assert [o["n"] for o in stored] == [1, 5]
        assert http.get(f"/classes/{broken}/{oid}").json()["n"] == 1
    time.sleep(0.5)  # the log line is written before the answer; give the file a moment
    lines = [line for line in Path(own_server.output).read_text().splitlines() if rid in line]
    assert len(lines) == 1, lines
    assert f"/batch /classes/{broken}/{oid}" in lines[0]


def test_a_batch_reaches_the_system_classes_services(api, parsnip_server):
    """Batched paths resolve to the same services as their routes: /users signs up (with its
    session token), /users/me is the caller, /installations registers a device once."""
    name = "u" + secrets.token_hex(5)
    r = api.post("/batch", json={"requests": [
        {"method": "POST", "path": "/parse/users", "body": {"username": name, "password": "pw"}},
    ]})
    [signup] = r.json()
    token = signup["success"]["sessionToken"]
    device = secrets.token_hex(8)
    install = {"method": "POST", "path": "/parse/installations",
               "body": {"installationId": device, "deviceType": "ios"}}
    r = api.post("/batch", headers={"X-Parse-Session-Token": token}, json={"requests": [
        {"method": "GET", "path": "/parse/users/me"}, install,
    ]})
    me, first = r.json()
    assert me["success"]["username"] == name and me["success"]["sessionToken"] == token
    r = api.post("/batch", json={"requests": [install]})
    [again] = r.json()  # the same installationId again: an update of the same device
    assert set(first["success"]) == {"objectId", "createdAt"} and set(again["success"]) == {"updatedAt"}
    r = api.post("/batch", json={"requests": [{"method": "GET", "path": "/parse/installations"}]})
    assert r.json() == [{"error": {"code": 119, "error": "Permission denied"}}]
