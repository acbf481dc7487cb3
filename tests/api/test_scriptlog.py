"""GET /scriptlog as Parse Server's LogsRouter answers it, over the log files a real `parsnip`
process wrote while serving real requests: master key only, `level`, `size`/`n`, `order`,
`from`/`until`, newest first by default; and /serverInfo's `features.logs`, which the Parse
Dashboard reads before it shows its Logs section."""

from __future__ import annotations

import json
import secrets
import socket
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.conftest import _admin_sql, _with_database, start_server, stop_server

READ_ONLY = "read-only-" + secrets.token_hex(4)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module")
def logged(admin_dsn: str):
    """A server at debug level (a record per request) whose mail server refuses connections (an
    error record per password reset), after 12 requests with known ids and 2 failed mails."""
    name = "parsnip_sl_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    folder = tempfile.mkdtemp(prefix="parsnip-logs-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    adapter = {"module": "smtp", "options": {"host": "127.0.0.1", "port": closed, "fromAddress": "p@x.com"}}
    info = start_server(_with_database(admin_dsn, name), "--logLevel", "debug", "--logsFolder", folder,
                        "--readOnlyMasterKey", READ_ONLY, "--emailAdapter", json.dumps(adapter),
                        "--publicServerURL", "http://127.0.0.1/parse")
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
            assert c.post("/users", json={"username": "u", "password": "p", "email": "u@x.com"}).status_code == 201
            for i in range(12):
                assert c.get("/classes/Thing", headers={"X-Parse-Request-Id": f"r-{i}"}).status_code == 200
                time.sleep(0.002)  # distinct milliseconds, so the order is the requests'
            for rid in ("e-1", "e-2"):
                c.post("/requestPasswordReset", json={"email": "u@x.com"}, headers={"X-Parse-Request-Id": rid})
        time.sleep(0.3)  # each request's record is written just after its answer
        cut = datetime.now(timezone.utc)
        yield info, folder, cut
    finally:
        stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scriptlog(info, key: str | None = None, **params) -> httpx.Response:
    headers = {"X-Parse-Application-Id": info.app_id}
    if key is not None:
        headers["X-Parse-Master-Key"] = key
    return httpx.get(info.url + "/scriptlog", params=params, headers=headers, timeout=30)


def records(info, **params) -> list[dict]:
    r = scriptlog(info, info.master_key, **params)
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)
    return r.json()


def in_file(folder: str, stem: str = "parse-server.info") -> list[dict]:
    day = time.strftime("%Y-%m-%d", time.gmtime())
    return [json.loads(line) for line in Path(folder, f"{stem}.{day}").read_text().splitlines()]


def _at(record: dict) -> datetime:
    return datetime.fromisoformat(record["timestamp"])


def test_defaults_are_the_ten_newest_records_newest_first(logged):
    info, folder, cut = logged
    got = records(info, until=_iso(cut))
    written = [r for r in in_file(folder) if _at(r) <= cut]
    assert got == list(reversed(written))[:10]
    assert all({"timestamp", "level", "message"} <= set(r) for r in got)
    # The newest: the second reset's mail failure and its request, then the first's, then r-11...
    ids = [r.get("requestId") for r in got]
    assert ids[:2] == ["e-2", "e-2"] and ids[-1] == "r-6"
    assert [i for i in ids if i.startswith("r-")] == [f"r-{i}" for i in range(11, 5, -1)]


@pytest.mark.parametrize("params, count", [
    ({"n": "3"}, 3), ({"size": "4"}, 4), ({"size": "4", "n": "2"}, 2), ({"size": "abc"}, 10),
    ({"size": "0"}, 10), ({"size": "-3"}, 10), ({"n": "1000"}, None),
])
def test_size_and_n(logged, params, count):
    info, folder, cut = logged
    got = records(info, until=_iso(cut), **params)
    written = [r for r in in_file(folder) if _at(r) <= cut]
    assert len(got) == (len(written) if count is None else count)
    assert got == list(reversed(written))[:len(got)]


def test_ascending_from_and_until_pick_a_window_of_requests(logged):
    info, folder, cut = logged
    by_id = {r.get("requestId"): r for r in in_file(folder)}
    window = records(info, order="asc", n="100", **{"from": by_id["r-3"]["timestamp"],
                                                     "until": by_id["r-7"]["timestamp"]})
    assert [r["requestId"] for r in window] == [f"r-{i}" for i in range(3, 8)]
    # Oldest first from the start: the banner comes first.
    first = records(info, order="asc", n="2")
    assert first[0]["message"].startswith("parsnip ") and _at(first[0]) <= _at(first[1])
    assert records(info, **{"from": _iso(datetime.now(timezone.utc) + timedelta(days=1))}) == []
    assert records(info, until=_iso(datetime.now(timezone.utc) - timedelta(days=8))) == []


def test_level_error_reads_the_error_records_only(logged):
    info, folder, cut = logged
    errors = records(info, level="error")
    assert [r["requestId"] for r in errors] == ["e-2", "e-1"]
    assert all(r["level"] == "error" and "could not send the password reset email" in r["message"] for r in errors)
    assert errors == list(reversed(in_file(folder, "parse-server.err")))
    # Any other level reads every record (Parse's info file): errors and debug lines alike.
    levels = {r["level"] for r in records(info, level="info", n="1000", until=_iso(cut))}
    assert levels == {"info", "debug", "error"}


def test_the_dashboards_request_the_js_sdk_form_with_the_master_key(logged):
    info, _, _ = logged
    body = {"_method": "GET", "_ApplicationId": info.app_id, "_MasterKey": info.master_key,
            "_ClientVersion": "js8.6.2"}
    r = httpx.post(info.url + "/scriptlog?level=info&n=100", content=json.dumps(body),
                   headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 200 and 10 < len(r.json()) <= 100


@pytest.mark.parametrize("key, app_id, status, body", [
    (None, True, 403, {"error": "Permission denied"}),
    ("wrong", True, 403, {"error": "Permission denied"}),
    ("master", False, 403, {"error": "unauthorized"}),
    (READ_ONLY, True, 200, None),
])
def test_master_key_only(logged, key, app_id, status, body):
    info, _, _ = logged
    headers = {"X-Parse-Application-Id": info.app_id} if app_id else {}
    if key is not None:
        headers["X-Parse-Master-Key"] = info.master_key if key == "master" else key
    r = httpx.get(info.url + "/scriptlog", headers=headers, timeout=30)
    assert r.status_code == status
    if body is not None:
        assert r.json() == body


def test_server_info_says_logs_are_supported(logged):
    info, _, _ = logged
    r = httpx.get(info.url + "/serverInfo", timeout=30,
                  headers={"X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key})
    assert r.json()["features"]["logs"] == {"level": True, "size": True, "order": True, "until": True, "from": True}


def test_without_log_files_there_is_nothing_to_read(fresh_dsn):
    info = start_server(fresh_dsn, "--logsFolder", "")
    try:
        master = {"X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key}
        features = httpx.get(info.url + "/serverInfo", headers=master, timeout=30).json()["features"]
        assert set(features["logs"].values()) == {False}
        assert httpx.get(info.url + "/scriptlog", headers=master, timeout=30).json() == []
    finally:
        stop_server(info)
