"""Cloud functions over REST (`POST /functions/{name}`), against a real server started with
`--cloud` on a module written for these tests: results, params, errors and their codes,
context, validators with Parse's messages, and a module that cannot load."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud
from tests.conftest import ROOT, _free_port

CLOUD = textwrap.dedent('''
    import threading
    import time
    from datetime import datetime, timezone

    import trio

    from parsnip.cloud import Cloud, ParseError

    cloud = Cloud()

    @cloud.define("hello")
    async def hello(req):
        return "Hello world!"

    @cloud.define("echo")
    async def echo(req):
        return req.params

    @cloud.define("when")
    async def when(req):
        d = req.params["d"]
        return {"type": type(d).__name__, "next": d.replace(year=d.year + 1),
                "at": datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)}

    @cloud.define("blocking")
    def blocking(req):  # a plain def: a worker thread, not the trio loop
        time.sleep(0.01)
        return threading.current_thread() is not threading.main_thread()

    @cloud.define("nothing")
    async def nothing(req):
        await trio.sleep(0)

    @cloud.define("sum")
    async def add(req):
        a, b = req.params.get("a"), req.params.get("b")
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            raise ParseError(ParseError.VALIDATION_ERROR, "a and b must be numbers")
        return a + b

    @cloud.define("fails")
    def fails(req):
        raise RuntimeError("This function always fails")

    @cloud.define("notFound")
    async def not_found(req):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "nothing here")

    @cloud.define("unencodable")
    async def unencodable(req):
        return object()

    @cloud.define("request")
    async def request(req):
        req.log.info("request called")
        return {"master": req.master, "installation_id": req.installation_id, "ip": req.ip,
                "function_name": req.function_name, "context": req.context, "user": req.user,
                "user_id": req.user_id, "header": req.headers.get("x-custom")}

    @cloud.define("userOnly", require_user=True)
    async def user_only(req):
        return "ok"

    @cloud.define("masterOnly", require_master=True)
    async def master_only(req):
        return "ok"

    @cloud.define("typed", fields={"name": {"type": str, "required": True},
                                  "size": {"type": int, "options": [1, 2, 3]},
                                  "color": {"default": "red"}})
    async def typed(req):
        return req.params

    @cloud.define("named", fields=["a", "b"])
    async def named(req):
        return "ok"

    @cloud.define("checked", validator=lambda req: req.params.get("ok") or (_ for _ in ()).throw(ValueError("not ok")))
    async def checked(req):
        return "ok"

    async def _own(req):
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "own code")

    @cloud.define("ownCode", validator=_own)
    async def own_code(req):
        return "never"
''')


@pytest.fixture(scope="module")
def cloud_server(admin_dsn, tmp_path_factory):
    """A server of its own, with the module above as its Cloud Code."""
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("cloud"), CLOUD) as info:
        yield info


@pytest.fixture
def fn(cloud_server):
    with httpx.Client(base_url=cloud_server.url + "/functions",
                      headers={"X-Parse-Application-Id": cloud_server.app_id}, timeout=30) as client:
        yield client


def test_a_function_result_is_wrapped_in_result(fn):
    r = fn.post("/hello", json={})
    assert (r.status_code, r.json()) == (200, {"result": "Hello world!"})


def test_params_come_from_the_body_and_the_query_string_and_echo_back(fn):
    body = {"n": 1, "s": "x", "list": [1, {"a": None}], "obj": {"k": True},
            "ptr": {"__type": "Pointer", "className": "Thing", "objectId": "abc"}}
    r = fn.post("/echo?q=2", json=body)
    assert r.status_code == 200
    assert r.json() == {"result": {**body, "q": "2"}}


def test_a_date_arrives_as_datetime_and_a_returned_datetime_is_a_parse_date(fn):
    r = fn.post("/when", json={"d": {"__type": "Date", "iso": "2020-05-06T07:08:09.123Z"}})
    assert r.json() == {"result": {
        "type": "datetime", "next": {"__type": "Date", "iso": "2021-05-06T07:08:09.123Z"},
        "at": {"__type": "Date", "iso": "2024-01-02T03:04:05.006Z"}}}


def test_a_plain_def_runs_in_a_worker_thread(fn):
    assert fn.post("/blocking").json() == {"result": True}


def test_a_function_returning_nothing_answers_an_empty_object(fn):
    r = fn.post("/nothing", json={})
    assert (r.status_code, r.json()) == (200, {})


def test_an_unknown_function_is_141_invalid_function(fn):
    r = fn.post("/missing", json={})
    assert (r.status_code, r.json()) == (400, {"code": 141, "error": 'Invalid function: "missing"'})


def test_a_get_is_not_a_function_call(fn):
    assert fn.get("/hello").status_code == 404


def test_a_parse_error_keeps_its_code_and_status(fn):
    r = fn.post("/sum", json={"a": 1})
    assert (r.status_code, r.json()) == (400, {"code": 142, "error": "a and b must be numbers"})
    assert fn.post("/sum", json={"a": 1, "b": 2.5}).json() == {"result": 3.5}
    r = fn.post("/notFound", json={})
    assert (r.status_code, r.json()) == (404, {"code": 101, "error": "nothing here"})


def test_any_other_exception_is_141_with_its_message_and_no_traceback(fn, cloud_server):
    r = fn.post("/fails", json={}, headers={"X-Parse-Request-Id": "req-fails-1"})
    assert (r.status_code, r.json()) == (400, {"code": 141, "error": "This function always fails"})
    assert "Traceback" not in r.text
    logged = Path(cloud_server.output).read_text()  # the traceback goes to the log, with the request id
    assert "req-fails-1" in logged and "RuntimeError: This function always fails" in logged
    assert "Traceback" in logged
    r = fn.post("/unencodable", json={})
    assert r.status_code == 400 and r.json()["code"] == 141


def test_the_request_carries_parse_fields(fn, cloud_server):
    r = fn.post("/request", json={}, headers={
        "X-Parse-Installation-Id": "inst-1", "X-Parse-Cloud-Context": '{"a": 1}', "X-Custom": "yes"})
    assert r.json() == {"result": {"master": False, "installation_id": "inst-1", "ip": "127.0.0.1",
                                   "function_name": "request", "context": {"a": 1}, "user": None,
                                   "user_id": None, "header": "yes"}}
    r = fn.post("/request", json={}, headers={"X-Parse-Master-Key": cloud_server.master_key})
    assert r.json()["result"]["master"] is True and r.json()["result"]["context"] == {}


def test_the_js_sdk_body_form_carries_keys_and_context(fn, cloud_server):
    r = fn.post("/request", content=json.dumps({
        "_ApplicationId": cloud_server.app_id, "_MasterKey": cloud_server.master_key,
        "_InstallationId": "inst-2", "_context": {"b": 2}}), headers={"Content-Type": "text/plain"})
    result = r.json()["result"]
    assert (result["master"], result["installation_id"], result["context"]) == (True, "inst-2", {"b": 2})
    r = fn.post("/echo", content=json.dumps({"_ApplicationId": cloud_server.app_id, "x": 1}))
    assert r.json() == {"result": {"x": 1}}


@pytest.mark.parametrize("context", ["[1]", "3", "nope", '"text"'])
def test_a_context_that_is_not_an_object_is_107(fn, context):
    r = fn.post("/hello", json={}, headers={"X-Parse-Cloud-Context": context})
    assert (r.status_code, r.json()) == (400, {"code": 107, "error": "Invalid object for context."})


def test_require_user_and_require_master_answer_with_parses_messages(fn, cloud_server):
    r = fn.post("/userOnly", json={})
    assert (r.status_code, r.json()) == (400, {"code": 142, "error": "Validation failed. Please login to continue."})
    r = fn.post("/masterOnly", json={})
    assert r.json() == {"code": 142, "error": "Validation failed. Master key is required to complete this request."}
    master = {"X-Parse-Master-Key": cloud_server.master_key}
    assert fn.post("/masterOnly", json={}, headers=master).json() == {"result": "ok"}
    # The master key skips the built-in checks, as in Parse (validate_master_key not set).
    assert fn.post("/userOnly", json={}, headers=master).json() == {"result": "ok"}


def test_a_logged_in_user_passes_require_user(fn, cloud_server):
    with httpx.Client(base_url=cloud_server.url, headers={"X-Parse-Application-Id": cloud_server.app_id}) as api:
        signed = api.post("/users", json={"username": "u" + secrets.token_hex(4), "password": "pw"}).json()
    r = fn.post("/userOnly", json={}, headers={"X-Parse-Session-Token": signed["sessionToken"]})
    assert r.json() == {"result": "ok"}
    r = fn.post("/request", json={}, headers={"X-Parse-Session-Token": signed["sessionToken"]})
    assert r.json()["result"]["user_id"] == signed["objectId"]


def test_fields_check_presence_type_options_and_fill_defaults(fn):
    r = fn.post("/typed", json={})
    assert r.json() == {"code": 142, "error": "Validation failed. Please specify data for name."}
    r = fn.post("/typed", json={"name": 5})
    assert r.json() == {"code": 142, "error": "Validation failed. Invalid type for name. Expected: string"}
    r = fn.post("/typed", json={"name": "n", "size": 4})
    assert r.json() == {"code": 142, "error": "Validation failed. Invalid option for size. Expected: 1, 2, 3"}
    assert fn.post("/typed", json={"name": "n", "size": 2}).json() == {
        "result": {"name": "n", "size": 2, "color": "red"}}
    r = fn.post("/named", json={"a": 1})
    assert r.json() == {"code": 142, "error": "Validation failed. Please specify data for b."}


def test_a_validator_callable_refuses_with_142_or_its_own_parse_error(fn):
    assert fn.post("/checked", json={"ok": True}).json() == {"result": "ok"}
    assert fn.post("/checked", json={}).json() == {"code": 142, "error": "not ok"}
    assert fn.post("/ownCode", json={}).json() == {"code": 119, "error": "own code"}


def _start(tmp_path, source: str | None, cloud: str) -> subprocess.CompletedProcess:
    if source is not None:
        (tmp_path / "main.py").write_text(source)
    cmd = [sys.executable, "-m", "parsnip.api.cli", "--appId", "a", "--masterKey", "m", "--port", str(_free_port()),
           "--host", "127.0.0.1", "--databaseURI", "postgres://postgres@127.0.0.1:1/none", "--logsFolder", "",
           "--cloud", cloud]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("source, says", [
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("def broken(:\n", "SyntaxError"),
    ("cloud = 3\n", "`cloud` is a int"),
    ("x = 1\n", "no attribute `cloud`"),
])
def test_a_cloud_module_that_cannot_load_stops_the_server_with_a_clear_message(tmp_path, source, says):
    done = _start(tmp_path, source, str(tmp_path / "main.py"))
    assert done.returncode == 1
    assert "cannot load cloud code" in done.stderr or "cloud code" in done.stderr
    assert says in done.stderr


def test_a_missing_cloud_file_stops_the_server(tmp_path):
    done = _start(tmp_path, None, str(tmp_path / "absent.py"))
    assert done.returncode == 1 and "no such file" in done.stderr
