"""Fuzzing the REST API of a real server: random bodies and query parameters on the main routes
(create, update, get, find, delete, batch, aggregate with the master key, login).

Whatever is sent, the answer comes within the per-request timeout, is never a 5xx, and is JSON
in a shape Parse documents: `{"code": n, "error": "..."}` (or `{"error": "..."}` for 403, 404
and 413), or a success shape of that route; only a request head too large for the HTTP layer
gets its bare 431, as from Node under Parse Server. The server process is alive at the end.
PARSNIP_FUZZ_EXAMPLES sets the examples per route (default 40, so about 360 requests in all).
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import start_server, stop_server
from tests.hostile import HOSTILE, KEYS, ODD_TEXT, dumps, where_like

EXAMPLES = int(os.environ.get("PARSNIP_FUZZ_EXAMPLES", "40"))
TIMEOUT = 15.0  # seconds for one request, however loaded the machine
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])
TRIED: collections.Counter = collections.Counter()  # requests sent, by kind (printed at the end)
RECENT: collections.deque = collections.deque(maxlen=3)
SLOWEST: list[tuple[float, str, str]] = []  # (seconds, kind, url) of the slowest answers


@pytest.fixture(scope="module")
def server(admin_dsn):
    from tests.conftest import _admin_sql, _with_database

    name = "parsnip_f_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name))
    with httpx.Client(base_url=info.url, timeout=TIMEOUT, headers={
            "X-Parse-Application-Id": info.app_id, "X-Parse-Master-Key": info.master_key}) as http:
        oid = http.post("/classes/Fuzz", json={"name": "x", "score": 1, "tags": ["a"]}).json()["objectId"]
        http.post("/users", json={"username": "fuzzer", "password": "pw"})
    info.fuzz_oid = oid  # type: ignore[attr-defined]
    with httpx.Client(base_url=info.url, timeout=TIMEOUT) as http:
        info.http = http  # type: ignore[attr-defined]
        yield info
    alive = info.process.poll() is None
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert alive, "the server died during fuzzing"


# -- what is sent ----------------------------------------------------------------------------------

def _deep_text(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"$or":[' * depth + '{"a":1}' + "]}" * depth


DEEP_TEXT = st.builds(_deep_text, st.integers(90, 20_000), st.sampled_from(["array", "object", "or"]))
DEEP_PARAM = st.builds(_deep_text, st.integers(90, 1200), st.sampled_from(["array", "object", "or"]))  # fits a URL
RAW_BYTES = st.sampled_from([b"", b"{", b"null", b"[]", b'"x"', b"\xff\xfe", b'{"a":"\xed\xa0\x80"}',
                             b'{"a":NaN}', b"{}" * 1000, b'{"a":1e999999}', b"\x00"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


BODY = st.one_of(
    st.dictionaries(KEYS, HOSTILE, max_size=5).map(lambda d: ("object", dumps(d).encode())),
    HOSTILE.map(lambda v: ("any-json", dumps(v).encode())),
    DEEP_TEXT.map(lambda t: ("deep-text", ('{"a":' + t + "}").encode())),
    RAW_BYTES.map(lambda b: ("raw-bytes", b)),
)
PARAM_VALUE = st.one_of(HOSTILE.map(_text), DEEP_PARAM, ODD_TEXT, st.text(max_size=30),
                        st.sampled_from(["1", "-1", "0", str(2**63), str(2**64), "1e400", "abc", "true", ""]))
PARAMS = st.dictionaries(
    st.sampled_from(["where", "order", "limit", "skip", "keys", "excludeKeys", "include", "includeAll", "count",
                     "explain", "redirectClassNameForKey", "asOf", "foo"]),
    st.one_of(PARAM_VALUE, where_like().map(dumps)), max_size=4)
CLASS = st.sampled_from(["Fuzz", "Fuzz", "Fuzz", "_User", "_Installation", "1Bad", "A%00b", "%ED%A0%80", "Fuzz%0A"])
AUTH = st.sampled_from(["master", "client", "bad-token"])


def _headers(server, auth: str) -> dict[str, str]:
    headers = {"X-Parse-Application-Id": server.app_id, "Content-Type": "application/json"}
    if auth == "master":
        headers["X-Parse-Master-Key"] = server.master_key
    elif auth == "bad-token":
        headers["X-Parse-Session-Token"] = "r:" + secrets.token_hex(8)
    return headers


# -- what must come back ------------------------------------------------------------------------------

def _documented(status: int, body: Any) -> bool:
    if status >= 400:
        if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
            return False
        return isinstance(body.get("code"), int) or status in (403, 404, 413)
    return isinstance(body, (dict, list))


def _query(params: dict[str, str] | None) -> str:
    """The query string as a client may send it: UTF-8, a lone surrogate's bytes included."""
    if not params:
        return ""
    return "?" + "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
                          for k, v in params.items())


def _send(server, kind: str, method: str, path: str, *, params=None, content: bytes | None = None,
          auth: str = "master") -> httpx.Response:
    url = path + _query(params)
    assume(len(url) < 60_000)  # httpx sends no longer URL (and the server takes up to 64 KiB of head)
    TRIED[kind] += 1
    started = time.monotonic()
    try:
        r = server.http.request(method, url, content=content, headers=_headers(server, auth))
    except httpx.TimeoutException:
        print("\nTIMEOUT after:", list(RECENT))
        raise
    finally:
        RECENT.append((kind, method, url[:100], (content or b"")[:100], auth))
        SLOWEST.append((time.monotonic() - started, kind, f"{method} {url[:120]} {(content or b'')[:120]!r}"))
        SLOWEST.sort(reverse=True)
        del SLOWEST[5:]
    if r.status_code == 431:  # a request head past 64 KiB, refused before any app sees it (Node: past 16 KiB)
        assert len(url) > 16_384 and r.content == b"", (len(url), r.content[:100])
        return r
    assert r.status_code < 500, (kind, method, path, params, (content or b"")[:300], r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").startswith("application/json"), (kind, r.headers, r.text[:200])
    assert _documented(r.status_code, r.json()), (kind, r.status_code, r.text[:300])
    return r


# -- the routes -------------------------------------------------------------------------------------------

@FUZZ
@given(body=BODY, cls=CLASS, auth=AUTH)
def test_create(server, body, cls, auth):
    _send(server, f"create/{body[0]}", "POST", f"/classes/{cls}", content=body[1], auth=auth)


@FUZZ
@given(body=BODY, auth=AUTH, oid=st.sampled_from(["own", "zzzzzzzzzz", "a%00b"]))
def test_update(server, body, auth, oid):
    oid = server.fuzz_oid if oid == "own" else oid
    _send(server, f"update/{body[0]}", "PUT", f"/classes/Fuzz/{oid}", content=body[1], auth=auth)


@FUZZ
@given(params=PARAMS, cls=CLASS, auth=AUTH)
def test_find(server, params, cls, auth):
    _send(server, "find/params", "GET", f"/classes/{cls}", params=params, auth=auth)


@FUZZ
@given(params=PARAMS, auth=AUTH)
def test_find_in_the_sdk_body_form(server, params, auth):
    body = {"_method": "GET", **{k: _maybe_json(v) for k, v in params.items()}}
    _send(server, "find/sdk-body", "POST", "/classes/Fuzz", content=dumps(body).encode(), auth=auth)


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@FUZZ
@given(params=PARAMS, auth=AUTH)
def test_get(server, params, auth):
    _send(server, "get/params", "GET", f"/classes/Fuzz/{server.fuzz_oid}", params=params, auth=auth)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["limit", "after", "asOf", "foo"]), PARAM_VALUE, max_size=3),
       cls=CLASS, auth=AUTH, oid=st.sampled_from(["own", "zzzzzzzzzz", "a%00b"]))
def test_history(server, params, cls, auth, oid):
    oid = server.fuzz_oid if oid == "own" else oid
    _send(server, "history/params", "GET", f"/history/{cls}/{oid}", params=params, auth=auth)


@FUZZ
@given(requests=st.lists(st.fixed_dictionaries({
    "method": st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE"]), HOSTILE),
    "path": st.one_of(st.sampled_from(["/parse/classes/Fuzz", "/parse/classes/Fuzz/zzzzzzzzzz", "/parse/users",
                                       "/parse/classes/Fuzz/a\x00b", "/parse/batch", "/classes/Fuzz"]), HOSTILE),
}, optional={"body": HOSTILE, "params": st.one_of(HOSTILE, where_like())}), max_size=5),
    transaction=st.sampled_from([None, True, "yes"]), auth=AUTH)
def test_batch(server, requests, transaction, auth):
    body: dict[str, Any] = {"requests": requests}
    if transaction is not None:
        body["transaction"] = transaction
    r = _send(server, "batch", "POST", "/batch", content=dumps(body).encode(), auth=auth)
    if r.status_code == 200:  # each request answered alone
        assert len(r.json()) == len(requests)
        assert all(set(item) in ({"success"}, {"error"}) for item in r.json())


@FUZZ
@given(pipeline=st.one_of(
    st.lists(st.dictionaries(st.sampled_from(["$match", "$group", "$project", "$sort", "$limit", "$skip",
                                               "$count", "$unwind", "$foo"]), HOSTILE, min_size=1, max_size=1),
             max_size=3).map(dumps),
    PARAM_VALUE), distinct=st.one_of(st.none(), st.sampled_from(["name", "tags", "$x", "a.b"]), ODD_TEXT),
    where=st.one_of(st.none(), where_like().map(dumps), DEEP_PARAM))
def test_aggregate(server, pipeline, distinct, where):
    params = {"pipeline": pipeline} if distinct is None else {"distinct": distinct}
    if where is not None:
        params["where"] = where
    _send(server, "aggregate", "GET", "/aggregate/Fuzz", params=params)


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"username": st.one_of(HOSTILE, st.just("fuzzer")),
                                             "password": st.one_of(HOSTILE, st.just("pw"))}).map(
    lambda d: ("credentials", dumps(d).encode())), BODY), method=st.sampled_from(["POST", "GET"]))
def test_login(server, body, method):
    if method == "GET":
        params = {k: _text(v) for k, v in _maybe_json(body[1].decode("utf-8", "replace")).items()} if body[
            0] == "credentials" else {"username": body[1].decode("utf-8", "replace")[:200]}
        _send(server, "login/params", "GET", "/login", params=params, auth="client")
    else:
        _send(server, f"login/{body[0]}", "POST", "/login", content=body[1], auth="client")


def test_the_server_survived_and_answers(server):
    """Runs last in this file: after everything above, the same process answers a plain read."""
    assert server.process.poll() is None
    r = server.http.get(f"/classes/Fuzz/{server.fuzz_oid}", headers={"X-Parse-Application-Id": server.app_id})
    assert r.status_code == 200 and r.json()["name"] == "x"
    print("\nfuzz requests by kind:", dict(sorted(TRIED.items())), "total", sum(TRIED.values()))
    print("slowest:", [(round(t, 2), kind) for t, kind, _ in SLOWEST])
    print("slowest request:", SLOWEST[0] if SLOWEST else None)
