"""Requests the Parse Dashboard 9.x makes, exactly as it sends them (the JS SDK's POST with
`_method` and the keys in the body), answered as Parse Server 9.10 answers them; found by
tests/dashboard/drive.mjs."""

from __future__ import annotations

import secrets

import httpx
import pytest


@pytest.fixture
def dashboard(parsnip_server):
    """What the Dashboard's JS SDK sends: every call a POST with text/plain JSON, keys inside."""
    keys = {"_ApplicationId": parsnip_server.app_id, "_MasterKey": parsnip_server.master_key,
            "_ClientVersion": "js8.5.0", "_InstallationId": "3195fc0d-0280-4154-8bb1-f1bf3f2af9b1"}
    with httpx.Client(base_url=parsnip_server.url, headers={"Content-Type": "text/plain"}, timeout=30) as client:
        def call(method: str, path: str, body: dict | None = None) -> httpx.Response:
            return client.post(path, json={**(body or {}), "_method": method, **keys})
        yield call


def test_the_sidebar_lists_no_class_parse_keeps_for_itself(dashboard):
    # Creating a webhook and a config parameter in the Dashboard stores `_Hooks` and
    # `_GlobalConfig` objects; Parse's GET /schemas never lists them, so neither does the sidebar.
    name = "dash" + secrets.token_hex(4)
    r = dashboard("POST", "/hooks/functions", {"functionName": name, "url": "https://example.com/hook"})
    assert r.status_code == 200, r.text
    assert dashboard("PUT", "/config", {"params": {name: "v"}, "masterKeyOnly": {name: True}}).json() == {"result": True}
    try:
        r = dashboard("GET", "/schemas")
        assert r.status_code == 200
        listed = {c["className"] for c in r.json()["results"]}
        assert not listed & {"_Hooks", "_GlobalConfig", "_JobStatus", "_JobSchedule", "_PushStatus"}
        assert {"_User", "_Role"} <= listed
        # ...while the class itself still reads, as on Parse.
        assert dashboard("GET", "/schemas/_Hooks").json()["className"] == "_Hooks"
    finally:
        dashboard("PUT", f"/hooks/functions/{name}", {"__op": "Delete"})
        dashboard("PUT", "/config", {"params": {name: {"__op": "Delete"}}, "masterKeyOnly": {name: {"__op": "Delete"}}})
