"""GET /changes: the log in order for the master key, as pages and as server-sent events, through
real `parsnip` processes (two on one database, so one node's stream carries the other's writes).
A stream resumed with Last-Event-ID while writers run gives every position once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from typing import Iterator

import asyncpg
import httpx
import pytest

from tests.api.users_helpers import signup
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

MASTER = {"X-Parse-Master-Key": "test-master"}
SSE = {**MASTER, "Accept": "text/event-stream"}


def sql(dsn: str, statement: str, *args) -> list:
    async def run() -> list:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def nodes(admin_dsn):
    """Two servers on one database of this module's own (its log is this module's alone)."""
    name = "parsnip_c_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = _with_database(admin_dsn, name)
    first = start_server(dsn, "--readOnlyMasterKey", "read-only")
    second = start_server(dsn)
    yield first, second
    for info in (first, second):
        stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server(nodes):
    return nodes[0]


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
        yield c


@pytest.fixture
def other(nodes):
    """A client of the second node."""
    info = nodes[1]
    with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
        yield c


def _page(client, **params) -> list[dict]:
    r = client.get("/changes", params=params, headers=MASTER)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _head(dsn: str) -> int:
    return sql(dsn, "SELECT position FROM parsnip_log_head")[0][0]


def _positions(dsn: str, class_name: str | None = None) -> list[int]:
    if class_name is None:
        return [r[0] for r in sql(dsn, "SELECT position FROM parsnip_events ORDER BY position")]
    return [r[0] for r in sql(dsn, "SELECT position FROM parsnip_events WHERE class_name = $1 ORDER BY position",
                              class_name)]


def _cls() -> str:
    return "C" + secrets.token_hex(4)


def _activity(client, cls: str) -> list[str]:
    """Objects created, changed, deleted; a field added through the schema API; the class purged."""
    ids = [client.post(f"/classes/{cls}", json={"n": i}, headers=MASTER).json()["objectId"] for i in range(3)]
    client.put(f"/classes/{cls}/{ids[0]}", json={"n": {"__op": "Increment", "amount": 5}}, headers=MASTER)
    client.delete(f"/classes/{cls}/{ids[1]}", headers=MASTER)
    r = client.put(f"/schemas/{cls}", json={"className": cls, "fields": {"tag": {"type": "String"}}}, headers=MASTER)
    assert r.status_code == 200, r.text
    assert client.delete(f"/purge/{cls}", headers=MASTER).status_code == 200
    return ids


# -- pages ----------------------------------------------------------------------------------------

def test_pages_cover_every_event_once_in_log_order(client, server):
    _activity(client, _cls())
    _activity(client, _cls())
    seen, after = [], 0
    while True:
        page = _page(client, after=after, limit=4)
        assert len(page) <= 4
        if not page:
            break
        seen += page
        after = page[-1]["position"]
    assert [e["position"] for e in seen] == _positions(server.dsn)
    assert seen[:100] == _page(client)  # the default limit is 100
    assert _page(client, after=0, limit=0) == []
    assert _page(client, after=_head(server.dsn)) == []
    assert len(_page(client, limit=5000)) == min(1000, _head(server.dsn))


def test_class_name_keeps_one_class(client, server):
    cls, noise = _cls(), _cls()
    _activity(client, cls)
    _activity(client, noise)
    entries = _page(client, className=cls, limit=1000)
    assert [e["position"] for e in entries] == _positions(server.dsn, cls)
    assert {e["className"] for e in entries} == {cls}
    assert _page(client, className="NoSuchClass") == []


def test_only_the_master_key_reads_the_feed(client):
    user = signup(client)
    for headers in ({}, user.headers, {"X-Parse-REST-API-Key": "x"}):
        r = client.get("/changes", headers=headers)
        assert (r.status_code, r.json()) == (403, {"error": "Permission denied"}), r.text
        r = client.get("/changes", headers={**headers, "Accept": "text/event-stream"})
        assert (r.status_code, r.json()) == (403, {"error": "Permission denied"}), r.text
    assert client.get("/changes", headers={"X-Parse-Master-Key": "read-only"}).status_code == 200


@pytest.mark.parametrize("params, headers, code", [
    ({"where": "{}"}, {}, 102), ({"limit": "ten"}, {}, 102), ({"after": "1.5x"}, {}, 102),
    ({"after": "true"}, {}, 102), ({"className": "1bad"}, {}, 103),
    ({}, {"Accept": "text/event-stream", "Last-Event-ID": "nope"}, 102),
    ({"skip": "1"}, {"Accept": "text/event-stream"}, 102),
])
def test_bad_parameters_are_parse_errors(client, params, headers, code):
    r = client.get("/changes", params=params, headers={**MASTER, **headers})
    assert r.status_code == 400 and r.json()["code"] == code, r.text
    assert r.headers["content-type"].startswith("application/json")


def test_object_entries_are_history_entries_with_class_and_id(client):
    cls = _cls()
    start = _head_of(client)
    oid = client.post(f"/classes/{cls}", json={"n": 1, "doc": {"__type": "File", "name": "a.txt"}},
                      headers={**MASTER, "X-Parse-Request-Id": "feed-1"}).json()["objectId"]
    client.put(f"/classes/{cls}/{oid}", json={"n": {"__op": "Increment", "amount": 2}, "ACL": {"*": {"read": True}}},
               headers=MASTER)
    client.delete(f"/classes/{cls}/{oid}", headers=MASTER)
    user = signup(client, email="someone@example.com")
    client.put(f"/users/{user.id}", json={"nick": "n"}, headers=user.headers)

    entries = [e for e in _page(client, after=start) if e["objectId"] in (oid, user.id)]
    assert [(e["className"], e["op"]) for e in entries] == [
        (cls, "create"), (cls, "update"), (cls, "delete"), ("_User", "create"), ("_User", "update")]
    for e in entries:  # exactly what GET /history gives the master key for that version
        [same] = [h for h in client.get(f"/history/{e['className']}/{e['objectId']}", headers=MASTER).json()["results"]
                  if h["position"] == e["position"]]
        assert list(e)[:2] == ["className", "objectId"]
        assert {k: v for k, v in e.items() if k not in ("className", "objectId")} == same
    create, update, delete, signed_up, _ = entries
    assert create["object"]["doc"]["url"].endswith("/a.txt") and create["by"]["requestId"] == "feed-1"
    assert update["object"]["n"] == 3 and update["changes"]["n"] == {"__op": "Increment", "amount": 2}
    assert delete["object"] is None
    # The server's own fields never leave it; the password never was in the log.
    assert not any(k.startswith("_") for k in signed_up["object"]) and "password" not in signed_up["changes"]
    assert signed_up["object"]["email"] == "someone@example.com"


def _head_of(client) -> int:
    return int(client.get("/history/head", headers=MASTER).json()["position"])


def test_class_level_events_are_entries_without_an_object(client):
    cls = _cls()
    start = _head_of(client)
    _activity(client, cls)
    client.delete(f"/schemas/{cls}", headers=MASTER)
    entries = _page(client, after=start, className=cls)
    schema = [e for e in entries if e["op"] == "schema"]
    assert [e["changes"] for e in schema] == [
        {"newClass": True, "fields": {"n": {"type": "Number"}}}, {"fields": {"tag": {"type": "String"}}},
        {"dropClass": True}]
    [purge] = [e for e in entries if e["op"] == "purge"]
    assert purge["changes"] == {"count": 2}
    for e in [*schema, purge]:
        assert e["objectId"] is None and e["object"] is None and e["by"]["master"] is True


def test_erased_events_keep_their_place_without_their_data(client, server):
    cls = _cls()
    secret = "jane.doe@example.com"
    oid = client.post(f"/classes/{cls}", json={"email": secret}, headers=MASTER).json()["objectId"]
    client.put(f"/classes/{cls}/{oid}", json={"nick": "JD"}, headers=MASTER)
    erased = client.post(f"/history/{cls}/{oid}/erase", json={"by": secret, "reason": f"asked by {secret}"},
                         headers=MASTER).json()
    entries = [e for e in _page(client, className=cls, limit=1000) if e["objectId"] == oid]
    assert [e["op"] for e in entries] == ["create", "update", "erase"]
    for e in entries[:2]:
        assert e["object"] is None and e["changes"] == {} and e["byTrigger"] == []
    assert entries[2]["changes"] == {"positions": erased["erased"]} and entries[2]["object"] is None
    assert secret not in json.dumps(entries)


# -- server-sent events ---------------------------------------------------------------------------

@contextlib.contextmanager
def stream(client, **params) -> Iterator[Iterator[tuple[int | None, dict | str]]]:
    """The feed as server-sent events: (position, entry), or (None, comment)."""
    headers = {**SSE, **params.pop("headers", {})}
    with client.stream("GET", "/changes", params=params, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")

        def events():
            position = data = None
            for line in r.iter_lines():
                if line.startswith(":"):
                    yield None, line[1:].strip()
                elif line.startswith("id: "):
                    position = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    assert data["position"] == position
                    yield position, data
                    position = data = None

        yield events()


def _take(events, n: int, objects: bool = False) -> list[dict]:
    """The next `n` entries (object entries only, with `objects`)."""
    out = []
    for position, data in events:
        if position is not None and not (objects and data["objectId"] is None):
            out.append(data)
            if len(out) == n:
                return out
    raise AssertionError("the stream ended")


def test_a_stream_gives_the_backlog_then_live_changes_from_either_node(client, other):
    cls = _cls()
    start = _head_of(client)
    backlog = [client.post(f"/classes/{cls}", json={"n": i}, headers=MASTER).json()["objectId"] for i in range(3)]
    with stream(client, after=start, className=cls) as events:
        assert [e["objectId"] for e in _take(events, 3, objects=True)] == backlog
        here = client.post(f"/classes/{cls}", json={"n": 3}, headers=MASTER).json()["objectId"]
        there = other.post(f"/classes/{cls}", json={"n": 4}, headers=MASTER).json()["objectId"]  # the other node
        client.post(f"/classes/{_cls()}", json={"n": 5}, headers=MASTER)  # another class: not in this stream
        live = _take(events, 2, objects=True)
        assert [(e["objectId"], e["op"], e["object"]["n"]) for e in live] == [(here, "create", 3), (there, "create", 4)]


def test_last_event_id_resumes_after_that_position_and_wins_over_after(client):
    cls = _cls()
    start = _head_of(client)
    ids = [client.post(f"/classes/{cls}", json={"n": i}, headers=MASTER).json()["objectId"] for i in range(4)]
    with stream(client, after=start, className=cls) as events:
        first_two = _take(events, 2, objects=True)
    resumed_from = str(first_two[-1]["position"])
    with stream(client, after=start, className=cls, headers={"Last-Event-ID": resumed_from}) as events:
        assert [e["objectId"] for e in _take(events, 2, objects=True)] == ids[2:]


def test_nothing_missed_or_repeated_while_writers_run(client, other, server):
    """Writers on both nodes; a stream from position 0 read, dropped and resumed with
    Last-Event-ID a few times mid-way: every position of the log arrives exactly once, in order."""
    stop = threading.Event()
    failures: list[str] = []

    def writer(c: httpx.Client, cls: str) -> None:
        oid = None
        while not stop.is_set():
            if oid is None:
                r = c.post(f"/classes/{cls}", json={"n": 0}, headers=MASTER)
                if r.status_code != 201:
                    failures.append(r.text)
                oid = r.json().get("objectId")
            else:
                r = c.put(f"/classes/{cls}/{oid}", json={"n": {"__op": "Increment", "amount": 1}}, headers=MASTER)
                if r.status_code != 200:
                    failures.append(r.text)
                if secrets.randbelow(4) == 0:
                    c.delete(f"/classes/{cls}/{oid}", headers=MASTER)
                    oid = None

    def run(base: str) -> None:
        with httpx.Client(base_url=base, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
            writer(c, cls)

    cls = _cls()
    threads = [threading.Thread(target=run, args=(str(c.base_url),)) for c in (client, other, client, other)]
    for t in threads:
        t.start()
    received: list[int] = []
    try:
        time.sleep(0.5)
        last = None
        for _ in range(4):  # connect mid-way, take some, drop the connection, resume
            headers = {} if last is None else {"Last-Event-ID": str(last)}
            with stream(client, headers=headers) as events:
                got = _take(events, 150)
            received += [e["position"] for e in got]
            last = received[-1]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures
    head = _head(server.dsn)
    if head > received[-1]:  # what was written after the last reconnection
        with stream(client, headers={"Last-Event-ID": str(received[-1])}) as events:
            for position, _ in events:
                if position is not None:
                    received.append(position)
                    if position == head:
                        break
    assert received == list(range(1, head + 1))


def test_sigterm_ends_a_server_with_streams_open(fresh_dsn):
    """A stream waits for events as a LiveQuery socket does: a drain closes it after the clients'
    grace (2 s), never waits on it as on a request being worked on (30 s)."""
    info = start_server(fresh_dsn)
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
            c.post("/classes/Thing", json={"n": 1}, headers=MASTER)
            with stream(c) as events:
                _take(events, 2)  # the class's schema event, then the object
                started = time.monotonic()
                assert stop_server(info) == 0
                assert time.monotonic() - started < 6
                # Cut at the drain, as a LiveQuery socket is: the client resumes elsewhere with Last-Event-ID.
                with contextlib.suppress(httpx.RemoteProtocolError):
                    assert [p for p, _ in events if p is not None] == []
    finally:
        if info.process.poll() is None:
            stop_server(info)
    log = open(info.output).read()
    assert "Traceback" not in log and "ERROR" not in log, log
