"""Webhooks (`/hooks/functions`, `/hooks/triggers`) against two real Parsnip nodes on one
database and a real HTTP server standing in for the user's endpoint: Parse Server 9.10's
answers and error 143 messages, the `_Hooks` storage, calls with `X-Parse-Webhook-Key` and
Parse's payloads, a beforeSave webhook's object stored and answered, errors mapped as Parse
maps them, a Python function winning over a webhook of its name, and a webhook created on
one node called on the other."""

from __future__ import annotations

import secrets
import textwrap
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.api.webhook_receiver import start_receiver
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

KEY = "hook-key-" + secrets.token_hex(4)
READ_ONLY = "read-only-" + secrets.token_hex(4)
CLOUD = textwrap.dedent('''
    from parsnip.cloud import Cloud

    cloud = Cloud()

    @cloud.define("pyFn")
    async def py_fn(req):
        return "from python"
''')


@pytest.fixture(scope="module")
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


@pytest.fixture(scope="module")
def nodes(admin_dsn, tmp_path_factory):
    """Two nodes on one database (they follow each other through the log), with a webhook key."""
    path = tmp_path_factory.mktemp("cloud") / "main.py"
    path.write_text(CLOUD)
    name = "parsnip_wh_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = _with_database(admin_dsn, name)
    started = []
    try:
        for _ in range(2):
            started.append(start_server(dsn, "--cloud", str(path), "--webhookKey", KEY, "--readOnlyMasterKey", READ_ONLY))
        yield started
    finally:
        for info in started:
            stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _client(info, **headers) -> httpx.Client:
    return httpx.Client(base_url=info.url, timeout=30,
                        headers={"X-Parse-Application-Id": info.app_id, **headers})


@pytest.fixture(scope="module")
def master(nodes):
    with _client(nodes[0], **{"X-Parse-Master-Key": nodes[0].master_key}) as client:
        yield client


@pytest.fixture(scope="module")
def api(nodes):
    with _client(nodes[0]) as client:
        yield client


@pytest.fixture(scope="module")
def other_node(nodes):
    with _client(nodes[1]) as client:
        yield client


def _unique(prefix: str) -> str:
    return prefix + secrets.token_hex(4)


def test_function_hooks_are_created_listed_updated_and_deleted_as_parse_answers(master, receiver):
    name = _unique("fn")
    url, url2 = receiver.answer("/crud", {"success": 1}), receiver.url + "/crud2"
    r = master.post("/hooks/functions", json={"functionName": name, "url": url})
    assert (r.status_code, r.json()) == (200, {"functionName": name, "url": url})
    r = master.post("/hooks/functions", json={"functionName": name, "url": url})
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": f"function name: {name} already exists"})
    assert {"functionName": name, "url": url} in master.get("/hooks/functions").json()
    assert master.get(f"/hooks/functions/{name}").json() == {"functionName": name, "url": url}
    r = master.put(f"/hooks/functions/{name}", json={"url": url2})
    assert (r.status_code, r.json()) == (200, {"functionName": name, "url": url2})
    assert master.get(f"/hooks/functions/{name}").json()["url"] == url2
    r = master.put(f"/hooks/functions/{name}", json={"__op": "Delete"})
    assert (r.status_code, r.json()) == (200, {})
    r = master.get(f"/hooks/functions/{name}")
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": f"no function named: {name} is defined"})
    r = master.put(f"/hooks/functions/{name}", json={"url": url})
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": f"no function named: {name} is defined"})
    assert master.put(f"/hooks/functions/{name}", json={"__op": "Delete"}).json() == {}  # twice: still {}


def test_trigger_hooks_are_created_listed_updated_and_deleted_as_parse_answers(master, receiver):
    cls, url = _unique("T"), receiver.url + "/t"
    r = master.post("/hooks/triggers", json={"className": cls, "triggerName": "afterDelete", "url": url})
    assert (r.status_code, r.json()) == (200, {"className": cls, "url": url, "triggerName": "afterDelete"})
    r = master.post("/hooks/triggers", json={"className": cls, "triggerName": "afterDelete", "url": url})
    assert r.json() == {"code": 143, "error": f"class {cls} already has trigger afterDelete"}
    assert {"className": cls, "triggerName": "afterDelete", "url": url} in master.get("/hooks/triggers").json()
    assert master.get(f"/hooks/triggers/{cls}/afterDelete").json() == {
        "className": cls, "triggerName": "afterDelete", "url": url}
    r = master.get(f"/hooks/triggers/{cls}/beforeSave")
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": f"class {cls} does not exist"})
    assert master.put(f"/hooks/triggers/{cls}/afterDelete", json={"url": url + "2"}).json()["url"] == url + "2"
    assert master.put(f"/hooks/triggers/{cls}/afterDelete", json={"__op": "Delete"}).json() == {}
    assert master.get(f"/hooks/triggers/{cls}/afterDelete").json()["code"] == 143


def test_hooks_are_stored_in_the_hooks_class(master, receiver):
    name = _unique("stored")
    master.post("/hooks/functions", json={"functionName": name, "url": receiver.url + "/s"})
    rows = master.get("/classes/_Hooks", params={"where": f'{{"functionName":"{name}"}}'}).json()["results"]
    assert [(r["functionName"], r["url"]) for r in rows] == [(name, receiver.url + "/s")]


@pytest.mark.parametrize("path, body", [
    ("/hooks/functions", {"url": "http://127.0.0.1:9/x"}),
    ("/hooks/functions", {"functionName": "x"}),
    ("/hooks/functions", {"functionName": "x", "url": ""}),
    ("/hooks/functions", {"functionName": "x", "url": 5}),
    ("/hooks/functions", {"functionName": 5, "url": "http://127.0.0.1:9/x"}),
    ("/hooks/functions", [1]),
    ("/hooks/functions", {}),
    ("/hooks/triggers", {"className": "A", "triggerName": "bogus", "url": "http://127.0.0.1:9/x"}),
    ("/hooks/triggers", {"className": "A", "url": "http://127.0.0.1:9/x"}),
    ("/hooks/triggers", {"className": "A", "triggerName": "beforeSave"}),
])
def test_an_invalid_declaration_is_143(master, path, body):
    r = master.post(path, json=body)
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": "invalid hook declaration"})


@pytest.mark.parametrize("path, body", [
    ("/hooks/functions/any", {}),
    ("/hooks/functions/any", {"url": ""}),
    ("/hooks/triggers/A/beforeSave", {"other": 1}),
])
def test_an_update_without_a_url_is_143(master, path, body):
    r = master.put(path, json=body)
    assert (r.status_code, r.json()) == (400, {"code": 143, "error": "invalid hook declaration"})


@pytest.mark.parametrize("method, path", [
    ("GET", "/hooks/functions"), ("GET", "/hooks/triggers"), ("GET", "/hooks/functions/x"),
    ("GET", "/hooks/triggers/A/beforeSave"), ("POST", "/hooks/functions"), ("POST", "/hooks/triggers"),
    ("PUT", "/hooks/functions/x"), ("PUT", "/hooks/triggers/A/beforeSave"),
])
def test_without_the_master_key_it_is_permission_denied(api, method, path):
    r = api.request(method, path, json={"functionName": "x", "url": "http://127.0.0.1:9/x"})
    assert (r.status_code, r.json()) == (403, {"error": "Permission denied"})


@pytest.mark.parametrize("method, path, verb", [
    ("POST", "/hooks/functions", "create"), ("POST", "/hooks/triggers", "create"),
    ("PUT", "/hooks/functions/x", "modify"), ("PUT", "/hooks/triggers/A/beforeSave", "modify"),
])
def test_the_read_only_master_key_reads_hooks_but_cannot_change_them(nodes, method, path, verb):
    with _client(nodes[0], **{"X-Parse-Master-Key": READ_ONLY}) as read_only:
        assert read_only.get("/hooks/functions").status_code == 200
        r = read_only.request(method, path, json={"functionName": "x", "url": "http://127.0.0.1:9/x"})
    assert (r.status_code, r.json()) == (
        400, {"code": 119, "error": f"read-only masterKey isn't allowed to {verb} a hook."})


def test_server_info_says_hooks_are_supported(master):
    assert master.get("/serverInfo").json()["features"]["hooks"] == {
        "create": True, "read": True, "update": True, "delete": True}


def test_a_function_webhook_gets_the_key_and_parses_payload(master, api, receiver):
    name = _unique("call")
    master.post("/hooks/functions", json={"functionName": name, "url": receiver.answer("/fn", {"success": {"a": 1}})})
    user = api.post("/users", json={"username": _unique("u"), "password": "p"}).json()
    when = {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}
    r = api.post(f"/functions/{name}", json={"d": when, "n": 2, "deep": [{"d": when}]},
                 headers={"X-Parse-Session-Token": user["sessionToken"], "X-Parse-Installation-Id": "inst-1",
                          "X-Parse-Cloud-Context": '{"k": 1}'})
    assert (r.status_code, r.json()) == (200, {"result": {"a": 1}})
    [call] = receiver.calls("/fn")
    assert call.headers["x-parse-webhook-key"] == KEY
    assert call.headers["content-type"] == "application/json"
    body = call.body
    # Dates as ISO text, as Parse's payload has them (Parse decodes params, JSON writes a Date so)
    assert body["params"] == {"d": when["iso"], "n": 2, "deep": [{"d": when["iso"]}]}
    assert (body["functionName"], body["master"], body["isReadOnly"]) == (name, False, False)
    assert body["installationId"] == "inst-1"
    assert body["context"] == {"k": 1}
    assert body["ip"] == "127.0.0.1"
    assert body["headers"]["x-parse-installation-id"] == "inst-1"
    assert body["user"]["objectId"] == user["objectId"]
    assert body["user"]["sessionToken"] == user["sessionToken"]
    assert not any(k.startswith("_") or k == "password" for k in body["user"])


@pytest.mark.parametrize("reply, status, answer", [
    ({"success": "Hello"}, 200, {"result": "Hello"}),
    ({"success": [1, {"x": None}]}, 200, {"result": [1, {"x": None}]}),
    ({}, 200, {}),
    (b"", 200, {}),
    (b"not json", 200, {}),  # Parse's request helper drops a body it cannot parse
    ({"error": "nope"}, 400, {"code": 141, "error": "nope"}),
    ({"error": {"code": 137, "message": "dup"}}, 400, {"code": 141, "error": "dup"}),
    ({"error": {"code": 137, "error": "dup"}}, 400, {"code": 141, "error": {"code": 137, "error": "dup"}}),
    ({"error": 5}, 400, {"code": 141, "error": 5}),
])
def test_a_function_webhook_answer_is_mapped_as_parse_maps_it(master, api, receiver, reply, status, answer):
    name, path = _unique("map"), "/" + _unique("map")
    master.post("/hooks/functions", json={"functionName": name, "url": receiver.answer(path, reply)})
    r = api.post(f"/functions/{name}", json={})
    assert (r.status_code, r.json()) == (status, answer)


@pytest.mark.parametrize("url_of", [
    lambda receiver: "http://127.0.0.1:9/unreachable",
    lambda receiver: "not a url",
    lambda receiver: "::::",
    lambda receiver: "http://[::1",
    lambda receiver: "ftp://127.0.0.1/x",
    lambda receiver: receiver.answer("/" + _unique("e500"), {"success": 1}, status=500),
])
def test_an_unreachable_or_failing_webhook_is_141(master, api, receiver, url_of):
    name = _unique("down")
    master.post("/hooks/functions", json={"functionName": name, "url": url_of(receiver)})
    r = api.post(f"/functions/{name}", json={})
    assert r.status_code == 400 and r.json()["code"] == 141 and isinstance(r.json()["error"], str)


def test_a_python_function_wins_over_a_webhook_of_its_name(master, api, receiver):
    master.post("/hooks/functions", json={"functionName": "pyFn", "url": receiver.answer("/py", {"success": "hook"})})
    try:
        assert api.post("/functions/pyFn", json={}).json() == {"result": "from python"}
        assert receiver.calls("/py", timeout=0) == []
    finally:
        master.put("/hooks/functions/pyFn", json={"__op": "Delete"})


def test_a_deleted_function_webhook_is_no_longer_called(master, api, receiver):
    name = _unique("gone")
    master.post("/hooks/functions", json={"functionName": name, "url": receiver.answer("/gone", {"success": 1})})
    assert api.post(f"/functions/{name}", json={}).json() == {"result": 1}
    master.put(f"/hooks/functions/{name}", json={"__op": "Delete"})
    r = api.post(f"/functions/{name}", json={})
    assert r.json() == {"code": 141, "error": f'Invalid function: "{name}"'}


def test_a_before_save_webhook_decides_what_is_stored_and_answered(master, api, receiver):
    cls = _unique("Bs")
    url = receiver.answer("/" + cls, {"success": {"title": "changed", "extra": 5, "n": {"__op": "Increment", "amount": 1},
                                                  "createdAt": "x", "className": "Other"}})
    master.post("/hooks/triggers", json={"className": cls, "triggerName": "beforeSave", "url": url})
    r = api.post(f"/classes/{cls}", json={"title": "orig", "keep": "dropped"},
                 headers={"X-Parse-Cloud-Context": '{"c": 2}'})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["title"], created["extra"]) == ("changed", 5)
    stored = api.get(f"/classes/{cls}/{created['objectId']}").json()
    assert (stored["title"], stored["extra"], stored["n"]) == ("changed", 5, 1)
    assert "keep" not in stored  # the webhook's object is the data: what it left out is not written
    [call] = receiver.calls("/" + cls)
    assert call.headers["x-parse-webhook-key"] == KEY
    assert call.body["triggerName"] == "beforeSave"
    assert call.body["object"] == {"title": "orig", "keep": "dropped", "className": cls}
    assert "original" not in call.body and call.body["master"] is False
    # An update: the webhook sees the stored object with the request's operators, and `original`.
    r = api.put(f"/classes/{cls}/{created['objectId']}", json={"n": {"__op": "Increment", "amount": 10}})
    assert r.status_code == 200, r.text
    call = receiver.calls("/" + cls, 2)[1]
    assert call.body["object"]["n"] == {"__op": "Increment", "amount": 10}
    assert call.body["object"]["objectId"] == created["objectId"]
    assert call.body["original"]["n"] == 1 and call.body["original"]["className"] == cls
    assert api.get(f"/classes/{cls}/{created['objectId']}").json()["n"] == 2  # its own Increment of 1 won


def test_a_before_save_webhook_error_refuses_the_save(master, api, receiver):
    cls = _unique("Refused")
    url = receiver.answer("/" + cls, {"error": "not this one"})
    master.post("/hooks/triggers", json={"className": cls, "triggerName": "beforeSave", "url": url})
    r = api.post(f"/classes/{cls}", json={"a": 1})
    assert (r.status_code, r.json()) == (400, {"code": 141, "error": "not this one"})
    assert master.get(f"/classes/{cls}").json()["results"] == []


def test_after_save_and_delete_webhooks_are_called_and_their_errors_not_answered(master, api, receiver):
    cls = _unique("As")
    for trigger, reply in (("afterSave", {"error": "ignored"}), ("beforeDelete", {"success": True}),
                           ("afterDelete", {"success": True})):
        url = receiver.answer(f"/{cls}/{trigger}", reply)
        master.post("/hooks/triggers", json={"className": cls, "triggerName": trigger, "url": url})
    r = api.post(f"/classes/{cls}", json={"a": 1})
    assert r.status_code == 201
    oid = r.json()["objectId"]
    [after] = receiver.calls(f"/{cls}/afterSave")
    assert after.body["object"]["objectId"] == oid and after.body["object"]["a"] == 1
    assert after.body["object"]["className"] == cls and after.body["triggerName"] == "afterSave"
    assert api.delete(f"/classes/{cls}/{oid}").status_code == 200
    [before] = receiver.calls(f"/{cls}/beforeDelete")
    [gone] = receiver.calls(f"/{cls}/afterDelete")
    assert before.body["object"]["objectId"] == oid == gone.body["object"]["objectId"]
    assert before.body["object"]["a"] == 1


def test_a_webhook_created_on_one_node_is_called_on_the_other(master, other_node, receiver):
    name, cls = _unique("remote"), _unique("Remote")
    master.post("/hooks/functions", json={"functionName": name, "url": receiver.answer("/remote", {"success": "r"})})
    url = receiver.answer("/" + cls, {"success": {"v": "by hook"}})
    master.post("/hooks/triggers", json={"className": cls, "triggerName": "beforeSave", "url": url})
    deadline = time.monotonic() + 10
    while other_node.post(f"/functions/{name}", json={}).json() != {"result": "r"}:
        assert time.monotonic() < deadline, "the other node never learned of the webhook"
        time.sleep(0.1)
    r = other_node.post(f"/classes/{cls}", json={"v": "client"})
    assert r.json()["v"] == "by hook"
    master.put(f"/hooks/functions/{name}", json={"__op": "Delete"})
    deadline = time.monotonic() + 10
    while other_node.post(f"/functions/{name}", json={}).json().get("code") != 141:
        assert time.monotonic() < deadline, "the other node never learned the webhook was deleted"
        time.sleep(0.1)


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/classes/_Hooks", None),
    ("POST", "/classes/_Hooks", {"functionName": "evil", "url": "http://127.0.0.1:9/x"}),
    ("POST", "/classes/_Hooks", {"className": "Any", "triggerName": "beforeSave", "url": "http://127.0.0.1:9/x"}),
    ("GET", "/classes/_Hooks/someId", None),
    ("PUT", "/classes/_Hooks/someId", {"url": "http://127.0.0.1:9/x"}),
    ("DELETE", "/classes/_Hooks/someId", None),
    ("GET", "/classes/_JobStatus", None),
])
def test_clients_cannot_read_or_write_hooks_as_objects(api, master, method, path, body):
    r = api.request(method, path, json=body)
    assert (r.status_code, r.json()) == (400, {"code": 119, "error": "Permission denied"})
    if method == "POST":  # nor through a batch, and nothing was stored
        r = api.post("/batch", json={"requests": [{"method": method, "path": "/parse" + path, "body": body}]})
        assert r.json() == [{"error": {"code": 119, "error": "Permission denied"}}]
        assert master.get("/hooks/functions/evil").json()["code"] == 143


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=8)
_DECLARATION = st.dictionaries(st.sampled_from(["functionName", "className", "triggerName", "url", "__op"]),
                               _JSON | st.sampled_from(["beforeSave", "afterFind", "Delete", "http://127.0.0.1:9/x"]),
                               max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method_path=st.sampled_from([("POST", "/hooks/functions"), ("POST", "/hooks/triggers"),
                                    ("PUT", "/hooks/functions/fz"), ("PUT", "/hooks/triggers/Fz/beforeSave")]),
       body=_DECLARATION | _JSON)
def test_any_body_on_the_hook_routes_is_an_answer_or_143(master, method_path, body):
    method, path = method_path
    r = master.request(method, path, json=body)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["code"] == 143


def test_file_trigger_webhooks_run_on_uploads_and_deletes(master, receiver):
    """Parse runs trigger webhooks on "@File" (checked on the reference): the payload carries the
    file's JSON (the client's name before the save, the stored name and URL after), its size and
    who asks; a before webhook's error refuses with the route's code (130 upload, 153 delete) and
    its message; a success answer changes nothing."""
    def hook(trigger, reply):
        url = receiver.answer(f"/file/{trigger}/{secrets.token_hex(3)}", reply)
        r = master.post("/hooks/triggers", json={"className": "@File", "triggerName": trigger, "url": url})
        assert r.json() == {"className": "@File", "triggerName": trigger, "url": url}
        return url[len(receiver.url):]

    def drop(trigger):
        master.put(f"/hooks/triggers/@File/{trigger}", json={"__op": "Delete"})

    upload = {"Content-Type": "text/plain"}
    refuse = hook("beforeSave", {"error": "no files today"})
    r = master.post("/files/a.txt", content=b"hello", headers=upload)
    assert (r.status_code, r.json()) == (400, {"code": 130, "error": "no files today"})
    [call] = receiver.calls(refuse)
    assert call.body["file"] == {"__type": "File", "name": "a.txt"}
    assert call.body["fileSize"] == 5 and call.body["triggerName"] == "beforeSave" and call.body["master"] is True
    assert call.headers.get("x-parse-webhook-key") == KEY
    drop("beforeSave")
    before, after = hook("beforeSave", {"success": {"name": "ignored.txt"}}), hook("afterSave", {"error": "logged"})
    r = master.post("/files/b.txt", content=b"hello", headers=upload)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["name"].endswith("_b.txt")
    assert receiver.calls(before)[0].body["file"] == {"__type": "File", "name": "b.txt"}
    [call] = receiver.calls(after)
    assert call.body["file"] == {"__type": "File", "name": saved["name"], "url": saved["url"]}
    assert call.body["triggerName"] == "afterSave" and call.body["fileSize"] == 5
    drop("beforeSave"), drop("afterSave")
    refuse = hook("beforeDelete", {"error": "keep it"})
    r = master.delete(f"/files/{saved['name']}")
    assert (r.status_code, r.json()) == (400, {"code": 153, "error": "keep it"})
    assert receiver.calls(refuse)[0].body["file"]["name"] == saved["name"]
    drop("beforeDelete")
    gone = hook("afterDelete", {"success": True})
    assert master.delete(f"/files/{saved['name']}").status_code == 200
    [call] = receiver.calls(gone)
    assert call.body["file"] == {"__type": "File", "name": saved["name"], "url": saved["url"]}
    drop("afterDelete")
