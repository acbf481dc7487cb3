"""Parse.Config (GET/PUT /config) on real server processes: the shapes Parse Server 9.10 answers
(checked side by side with the reference), master-key-only parameters, deleting, typed values,
every change an event in the log, a second process on the same database seeing a change at
once, bad bodies, and Cloud Code's `@Config` triggers."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import httpx
import pytest

from tests.api.test_changes import sql
from tests.conftest import ROOT, _admin_sql, _with_database, start_server, stop_server

CLOUD = '''
from parsnip.cloud import Cloud, ParseError, ParseObject

cloud = Cloud()


@cloud.before_save("@Config")
async def guard(req):
    if req.object.get("forbidden") is not None:
        raise ParseError(ParseError.VALIDATION_ERROR, "forbidden is not allowed")
    if req.object.get("crash") is not None:
        raise RuntimeError("the trigger crashed")


@cloud.after_save("@Config")
async def audit(req):
    entry = ParseObject("ConfigAudit")
    entry.set("master", req.master)
    entry.set("keys", sorted(req.object.attributes))
    entry.set("original", None if req.original is None else sorted(req.original.attributes))
    entry.set("when", req.object.get("when"))
    await entry.save(master=True)
'''

DATE = {"__type": "Date", "iso": "2024-05-01T10:20:30.400Z"}


@pytest.fixture(scope="module")
def nodes(admin_dsn, tmp_path_factory):
    """Two servers on one database; the first loads Cloud Code with `@Config` triggers."""
    name = "parsnip_cfg_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = _with_database(admin_dsn, name)
    cloud = tmp_path_factory.mktemp("cloud") / "main.py"
    cloud.write_text(CLOUD)
    first = start_server(dsn, "--cloud", str(cloud), "--readOnlyMasterKey", "read-only")
    second = start_server(dsn)
    yield first, second
    for info in (first, second):
        stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _client(info, master: bool = False, key: str | None = None) -> httpx.Client:
    headers = {"X-Parse-Application-Id": info.app_id}
    if master or key:
        headers["X-Parse-Master-Key"] = key or info.master_key
    return httpx.Client(base_url=info.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def first(nodes):
    return nodes[0]


@pytest.fixture(scope="module")
def second(nodes):
    return nodes[1]


def test_never_saved_is_empty_params_for_everyone(first):
    with _client(first) as c, _client(first, master=True) as m:
        assert c.get("/config").json() == {"params": {}}
        assert m.get("/config").json() == {"params": {}}


def test_shapes_master_only_and_null_as_parse_answers(first):
    with _client(first) as c, _client(first, master=True) as m:
        r = m.put("/config", json={"params": {"a": 1, "secret": "s", "d": DATE},
                                   "masterKeyOnly": {"secret": True, "unnamed": True}})
        assert (r.status_code, r.json()) == (200, {"result": True})
        # Key order as Parse on PostgreSQL gives it (jsonb's); flags false unless sent truthy.
        assert m.get("/config").json() == {
            "params": {"a": 1, "d": DATE, "secret": "s"},
            "masterKeyOnly": {"a": False, "d": False, "secret": True}}
        assert c.get("/config").json() == {"params": {"a": 1, "d": DATE}, "masterKeyOnly": {"a": False, "d": False}}
        # Parameters not named are kept; a null is stored as null (Parse on PostgreSQL).
        assert m.put("/config", json={"params": {"a": None}}).json() == {"result": True}
        assert m.get("/config").json()["params"] == {"a": None, "d": DATE, "secret": "s"}
        # {"__op": "Delete"} deletes (the Dashboard's way); the flag stays unless deleted too.
        assert m.put("/config", json={"params": {"a": {"__op": "Delete"}}}).json() == {"result": True}
        assert m.get("/config").json() == {"params": {"d": DATE, "secret": "s"},
                                           "masterKeyOnly": {"a": False, "d": False, "secret": True}}
        m.put("/config", json={"params": {"secret": {"__op": "Delete"}}, "masterKeyOnly": {"secret": {"__op": "Delete"}}})
        assert m.get("/config").json() == {"params": {"d": DATE}, "masterKeyOnly": {"a": False, "d": False}}


def test_typed_values_and_operators_round_trip(first):
    typed = {
        "file": {"__type": "File", "name": "x.txt", "url": "http://files.example/x.txt"},
        "point": {"__type": "GeoPoint", "latitude": 1.5, "longitude": -2.25},
        "ptr": {"__type": "Pointer", "className": "Foo", "objectId": "abc"},
        "list": [1, "two", DATE, {"nested": {"deep": [True]}}],
        "obj": {"x": {"y": 1}},
        "bytes": {"__type": "Bytes", "base64": "AAA="},
    }
    with _client(first, master=True) as m:
        assert m.put("/config", json={"params": typed}).json() == {"result": True}
        params = m.get("/config").json()["params"]
        for name, value in typed.items():
            assert params[name] == value, name
        m.put("/config", json={"params": {"count": {"__op": "Increment", "amount": 2}}})
        m.put("/config", json={"params": {"count": {"__op": "Increment", "amount": 3}}})
        assert m.get("/config").json()["params"]["count"] == 5
        r = m.put("/config", json={"params": {"obj": {"__op": "Increment", "amount": 1}}})
        assert r.status_code == 400 and r.json()["code"] == 107


def test_only_the_master_key_changes_it(first):
    with _client(first) as c, _client(first, key="read-only") as ro:
        r = c.put("/config", json={"params": {"x": 1}})
        assert (r.status_code, r.json()) == (403, {"error": "Permission denied"})
        r = ro.put("/config", json={"params": {"x": 1}})
        assert (r.status_code, r.json()) == (400, {"code": 119, "error": "read-only masterKey isn't allowed to update the config."})
        assert ro.get("/config").json()["params"].get("x") is None  # the read-only key reads as master
    with httpx.Client(base_url=first.url, timeout=30) as anonymous:
        r = anonymous.get("/config")
        assert (r.status_code, r.json()) == (403, {"error": "unauthorized"})


@pytest.mark.parametrize("body, code", [
    ([1], 107), ({"params": 5}, 107), ({"params": [1]}, 107), ({"params": "abc"}, 107),
    ({"params": {"a": 1}, "masterKeyOnly": 3}, 107), ({"params": {"": 1}}, 105),
    ({"params": {"a": {"__op": "Nope"}}}, 107), ({"params": {"a": "nul\u0000"}}, 111),
    ({"params": {"a": {"__type": "Date", "iso": "never"}}}, 111),
])
def test_bad_bodies_are_parse_errors(first, body, code):
    with _client(first, master=True) as m:
        r = m.put("/config", json=body)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == code


def test_an_empty_change_writes_nothing(first):
    with _client(first, master=True) as m:
        before = sql(first.dsn, "SELECT count(*) FROM parsnip_events WHERE kind = 'config'")[0][0]
        assert m.put("/config", json={}).json() == {"result": True}
        assert m.put("/config", json={"params": {}, "masterKeyOnly": {"a": True}}).json() == {"result": True}
        assert sql(first.dsn, "SELECT count(*) FROM parsnip_events WHERE kind = 'config'")[0][0] == before


def test_every_change_is_an_event_in_the_log_and_the_feed(first):
    with _client(first, master=True) as m:
        m.put("/config", json={"params": {"logged": 1, "gone": {"__op": "Delete"}}, "masterKeyOnly": {"logged": True}})
        rows = sql(first.dsn, "SELECT position, class_name, object_id, version FROM parsnip_events"
                              " WHERE kind = 'config' ORDER BY position")
        assert rows and all(r["class_name"] == "@Config" and r["object_id"] is None for r in rows)
        assert [r["version"] for r in rows] == list(range(1, len(rows) + 1))
        last = rows[-1]["position"]
        entries = m.get("/changes", params={"after": last - 1, "limit": 1}).json()["results"]
        assert entries[0]["className"] == "@Config" and entries[0]["op"] == "config"
        assert entries[0]["changes"] == {"set": {"logged": 1}, "unset": ["gone"],
                                     "masterKeyOnly": {"logged": True, "gone": False}}
        assert m.get("/history/verify").json()["ok"] is True


def test_a_second_process_sees_a_change_at_once(first, second):
    with _client(first, master=True) as m1, _client(second) as c2, _client(second, master=True) as m2:
        c2.get("/config")  # the second node has the configuration cached
        for i in range(5):
            value = f"v{i}-{secrets.token_hex(3)}"
            m1.put("/config", json={"params": {"shared": value}})
            deadline = time.monotonic() + 2
            while c2.get("/config").json()["params"].get("shared") != value:
                assert time.monotonic() < deadline, "the second node kept an old configuration"
                time.sleep(0.01)
        m2.put("/config", json={"params": {"hidden": 1}, "masterKeyOnly": {"hidden": True}})
        with _client(first) as c1:
            deadline = time.monotonic() + 2
            while m1.get("/config").json()["params"].get("hidden") != 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert "hidden" not in c1.get("/config").json()["params"]


def test_rebuild_reproduces_the_configuration(first):
    with _client(first, master=True) as m:
        m.put("/config", json={"params": {"rebuilt": DATE}})
        before = sql(first.dsn, "SELECT version, params::text, master_key_only::text FROM parsnip_config")
    done = subprocess.run([sys.executable, "-m", "parsnip.api.cli", "rebuild", "--databaseURI", first.dsn],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sql(first.dsn, "SELECT version, params::text, master_key_only::text FROM parsnip_config") == before


def test_config_triggers_run_around_a_change(first):
    with _client(first, master=True) as m:
        r = m.put("/config", json={"params": {"forbidden": 1}})
        assert (r.status_code, r.json()) == (400, {"code": 142, "error": "forbidden is not allowed"})
        r = m.put("/config", json={"params": {"crash": 1}})
        assert (r.status_code, r.json()) == (400, {"code": 141, "error": "the trigger crashed"})
        assert "forbidden" not in m.get("/config").json()["params"]
        assert "crash" not in m.get("/config").json()["params"]
        m.put("/config", json={"params": {"when": DATE}})
        deadline = time.monotonic() + 5
        while True:
            found = m.get("/classes/ConfigAudit", params={"order": "-createdAt", "limit": 1}).json().get("results")
            if found and found[0].get("when") == DATE:
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
        entry = found[0]
        assert entry["master"] is True
        assert "when" in entry["keys"] and "when" not in (entry["original"] or [])


def test_the_dashboards_set_and_delete(first):
    """The Parse Dashboard's Config page: GET with the master key, a SET names one parameter and
    its flag, a DELETE sends `{"__op": "Delete"}` for both."""
    with _client(first, master=True) as m:
        body = {"params": {"dash": {"__type": "GeoPoint", "latitude": 3, "longitude": 4}},
                "masterKeyOnly": {"dash": True}}
        assert m.put("/config", json=body).json() == {"result": True}
        shown = m.get("/config").json()
        assert shown["params"]["dash"] == body["params"]["dash"] and shown["masterKeyOnly"]["dash"] is True
        gone = {"params": {"dash": {"__op": "Delete"}}, "masterKeyOnly": {"dash": {"__op": "Delete"}}}
        assert m.put("/config", json=gone).json() == {"result": True}
        shown = m.get("/config").json()
        assert "dash" not in shown["params"] and "dash" not in shown["masterKeyOnly"]


def test_server_info_reports_global_config(first):
    with _client(first, master=True) as m:
        features = m.get("/serverInfo").json()["features"]
        assert features["globalConfig"] == {"create": True, "read": True, "update": True, "delete": True}


def test_a_batch_reads_and_changes_it(first):
    """Parse routes /config inside /batch (GET, and PUT with the master key), as the reference
    answered side by side: a client's PUT is its entry's `{"error": "Permission denied"}` (the
    route's 403, no code), the read-only key's its 119, a before_save's refusal its 142; any
    other method on /config cannot be routed, which fails the whole batch with 107."""
    def put(params):
        return {"method": "PUT", "path": "/parse/config", "body": {"params": params}}
    read = {"method": "GET", "path": "/parse/config/"}
    with _client(first) as c, _client(first, master=True) as m, _client(first, key="read-only") as ro:
        r = m.post("/batch", json={"requests": [put({"inBatch": 1, "forbidden": 1}), put({"inBatch": 2})]})
        assert r.json() == [{"error": {"code": 142, "error": "forbidden is not allowed"}},
                            {"success": {"result": True}}]
        r = c.post("/batch", json={"requests": [put({"inBatch": 3}), read]})
        refused, got = r.json()
        assert refused == {"error": {"error": "Permission denied"}}
        assert got["success"]["params"]["inBatch"] == 2 and got["success"]["masterKeyOnly"]["inBatch"] is False
        r = ro.post("/batch", json={"requests": [put({"inBatch": 4})]})
        assert r.json() == [{"error": {"code": 119, "error": "read-only masterKey isn't allowed to update the config."}}]
        assert m.get("/config").json()["params"]["inBatch"] == 2
        for method in ("POST", "DELETE"):
            r = m.post("/batch", json={"requests": [{"method": method, "path": "/parse/config"}]})
            assert r.json() == {"code": 107, "error": f"cannot route {method} /config"}
        r = m.post("/batch", json={"requests": [{"method": "GET", "path": "/parse/config/x"}]})
        assert r.json() == {"code": 107, "error": "cannot route GET /config/x"}
