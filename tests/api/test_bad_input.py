"""Bad input, one table: each case's HTTP status and Parse code, an answer that is always JSON
(never a 500), and, where a write was attempted, that nothing was written.

Expectations follow Parse Server 9.10 except where Parse itself answers 500 or an HTML page
(then Parsnip refuses cleanly with a 4xx and a Parse code) — those rows say `parse:` what Parse does.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
import pytest

from parsnip.api.app import _guarded
from parsnip.api.routes import Reply
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

SEED = {"score": 1, "name": "seed", "tags": ["a"]}
UNSET = object()


@dataclass
class Case:
    id: str
    method: str
    path: str  # "{cls}" and "{oid}" are filled in: the test's class and its one seeded object
    status: int
    code: int | None  # None: the body has no code (Parse's {"error": ...} answers)
    json: Any = UNSET  # a JSON body
    content: bytes | None = None  # or raw bytes
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)  # added to / overriding the app id header
    app_id: bool = True  # send X-Parse-Application-Id
    error: str | None = None  # the exact message, when it matters
    writes: int = 0  # objects the request may create (the rest must be unchanged)
    server: str = "main"  # "keyed": a server that requires a REST API key
    marks: tuple = ()
    expect: Callable[[Any], bool] | None = None  # more to check of the JSON answer


BIG = 21 * 1024 * 1024  # over the default maxUploadSize of 20mb
MASTER = {"X-Parse-Master-Key": "test-master"}
JSON = {"Content-Type": "application/json"}


def _nested(depth: int, leaf: str = "1") -> str:
    """JSON text of arrays nested `depth` deep."""
    return "[" * depth + leaf + "]" * depth


def _or_nested(depth: int) -> dict:
    where: dict = {"score": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


def _items(*shapes: str) -> Callable[[Any], bool]:
    """A batch answer whose items are, in order, "success" or an error code."""
    def check(body: Any) -> bool:
        got = [next(iter(item)) if "success" in item else item["error"]["code"] for item in body]
        return got == [s if s == "success" else int(s) for s in shapes]
    return check

CASES = [
    # -- the body ------------------------------------------------------------------------------------
    Case("malformed-json", "POST", "/classes/{cls}", 400, 107, content=b'{"score": 1,',
         headers={"Content-Type": "application/json"}),  # parse: 400 {"error": "<JSON.parse message>"}, no code
    Case("malformed-json-text-plain", "POST", "/classes/{cls}", 400, 107, content=b"not json",
         headers={"Content-Type": "text/plain"}),
    Case("json-array-body", "POST", "/classes/{cls}", 400, 105, json=[{"score": 1}], error="Invalid field name: 0."),
    Case("json-array-body-put", "PUT", "/classes/{cls}/{oid}", 400, 105, json=[{"score": 2}],
         error="Invalid field name: 0."),
    Case("json-string-body", "POST", "/classes/{cls}", 400, 107, json="just a string"),
    Case("nan-literal", "POST", "/classes/{cls}", 400, 107, content=b'{"score":NaN}',
         headers={"Content-Type": "application/json"}),
    Case("oversized-body", "POST", "/classes/{cls}", 413, None, error="request entity too large",
         content=b'{"big":"' + b"x" * BIG + b'"}', headers={"Content-Type": "application/json"}),
    # -- bounds on client JSON (core/json_input.py: MAX_DEPTH = 100) --------------------------------
    # parse: deep bodies are taken up to a few thousand levels, then 500 {"code":1}.
    Case("deep-json-body-600", "POST", "/classes/{cls}", 400, 107,
         content=('{"a":' + _nested(600) + "}").encode(), headers=JSON),
    Case("deep-json-body-100000", "POST", "/classes/{cls}", 400, 107,
         content=('{"a":' + _nested(100_000) + "}").encode(), headers=JSON),
    Case("deep-json-body-101", "POST", "/classes/{cls}", 400, 107,
         content=('{"a":' + _nested(100) + "}").encode(), headers=JSON,
         error="JSON is nested too deeply (at most 100 levels)"),
    Case("deep-json-body-100-is-taken", "POST", "/classes/{cls}", 201, None,
         content=('{"deep":' + _nested(99) + "}").encode(), headers=JSON, writes=1),
    Case("deep-json-in-a-batch", "POST", "/batch", 400, 107, content=(
        '{"requests":[{"method":"POST","path":"/parse/classes/{cls}","body":{"a":' + _nested(200) + "}}]}").encode(),
         headers=JSON),
    Case("deep-json-update", "PUT", "/classes/{cls}/{oid}", 400, 107,
         content=('{"score":' + _nested(3000) + "}").encode(), headers=JSON),
    # parse: 119 "Postgres doesn't support this query type yet" (431 from 16 KB of URL on).
    Case("deep-json-where", "GET", "/classes/{cls}", 400, 107, params={"where": '{"a":' + _nested(600) + "}"}),
    Case("deep-json-where-5000", "GET", "/classes/{cls}", 400, 107, params={"where": '{"a":' + _nested(5000) + "}"}),
    Case("deep-json-where-sdk-form", "POST", "/classes/{cls}", 400, 107, headers=JSON,
         content=('{"_method":"GET","where":{"a":' + _nested(3000) + "}}").encode()),
    Case("deep-json-count", "GET", "/classes/{cls}", 200, None, params={"count": _nested(5000), "limit": "0"},
         expect=lambda b: b == {"results": [], "count": 1}),  # not JSON to us: a non-empty string, as Parse reads it
    Case("deep-json-include-all", "GET", "/classes/{cls}", 200, None, params={"includeAll": _nested(5000)}),
    Case("deep-json-aggregate-pipeline", "GET", "/aggregate/{cls}", 400, 107, headers=MASTER,
         params={"pipeline": _nested(5000)}),
    Case("deep-json-distinct-where", "GET", "/aggregate/{cls}", 400, 107, headers=MASTER,
         params={"distinct": "score", "where": '{"a":' + _nested(600) + "}"}),
    # parse: 500 from 40 levels on (its recursive query transform).
    Case("or-nested-300", "GET", "/classes/{cls}", 400, 107, params={"where": json.dumps(_or_nested(300))}),
    Case("or-nested-45-is-answered", "GET", "/classes/{cls}", 200, None, params={"where": json.dumps(_or_nested(45))},
         expect=lambda b: len(b["results"]) == 1),
    Case("too-many-fields", "POST", "/classes/{cls}", 400, 107,  # parse: 107 "Could not add field f1577"
         json={f"f{i}": i for i in range(1501)}, error="an object holds at most 1500 fields"),
    Case("too-many-fields-update", "PUT", "/classes/{cls}/{oid}", 400, 107, json={f"f{i}": i for i in range(100_000)}),
    # Past 256 KiB a body is decoded and checked in a worker thread: the same answers.
    Case("large-body-is-taken", "POST", "/classes/{cls}", 201, None, json={"big": "x" * 300_000}, writes=1),
    Case("large-body-nul", "POST", "/classes/{cls}", 400, 111, headers=JSON,
         content=b'{"big":"' + b"x" * 300_000 + b'\\u0000"}'),
    Case("large-body-update-bad-op", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"big": "x" * 300_000, "score": {"__op": "Bogus"}}),
    Case("large-transactional-batch-bad-op", "POST", "/batch", 400, 107, json={"transaction": True, "requests": [
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"big": "x" * 300_000}},
        {"method": "PUT", "path": "/parse/classes/{cls}/{oid}", "body": {"score": {"__op": "Bogus"}}}]}),
    # -- numbers -------------------------------------------------------------------------------------
    Case("limit-2^63", "GET", "/classes/{cls}", 200, None, params={"limit": str(2**63)},  # parse: 500
         expect=lambda b: len(b["results"]) == 1),
    Case("skip-2^63", "GET", "/classes/{cls}", 200, None, params={"skip": str(2**63)},  # parse: 500
         expect=lambda b: b == {"results": []}),
    Case("limit-10^400", "GET", "/classes/{cls}", 200, None, params={"limit": "1" + "0" * 400}),
    Case("limit-infinite-sdk-form", "POST", "/classes/{cls}", 400, 102, headers=JSON,
         content=b'{"_method":"GET","limit":1e400}'),
    Case("aggregate-limit-2^64", "GET", "/aggregate/{cls}", 400, 102, headers=MASTER,  # parse: 102 "bigint out of range"
         params={"pipeline": json.dumps([{"$limit": 2**64}])}),
    Case("aggregate-skip-2^64", "GET", "/aggregate/{cls}", 400, 102, headers=MASTER,
         params={"pipeline": json.dumps([{"$skip": 2**64}])}),
    # JavaScript reads 2^64 as the double 18446744073709552000, and so Parse stores it.
    Case("int-2^64-is-a-double", "POST", "/classes/{cls}", 201, None, content=b'{"big":18446744073709551616}',
         headers=JSON, writes=1),
    Case("int-10^400-is-infinite", "POST", "/classes/{cls}", 400, 111, content=b'{"big":1' + b"0" * 400 + b"}",
         headers=JSON, error="numbers must be finite"),  # parse: stores it
    Case("where-int-2^64", "GET", "/classes/{cls}", 200, None, params={"where": '{"score":18446744073709551616}'},
         expect=lambda b: b == {"results": []}),
    # -- regular expressions PostgreSQL refuses ---------------------------------------------------------
    Case("regex-repeat-65535", "GET", "/classes/{cls}", 400, 102,  # parse: 500
         params={"where": json.dumps({"name": {"$regex": "a{1,65535}"}})}),
    Case("regex-repeat-256", "GET", "/classes/{cls}", 400, 102, params={"where": json.dumps({"name": {"$regex": "x{256}"}})},
         error="bad $regex value on key name: repetition counts above 255 are not supported"),
    Case("regex-too-complex-for-postgresql", "GET", "/classes/{cls}", 400, 102,  # parse: 500
         params={"where": json.dumps({"name": {"$regex": "(((a{1,200}){1,200}){1,200}){1,200}"}})}),
    Case("regex-nested-3000", "GET", "/classes/{cls}", 400, 102,
         params={"where": json.dumps({"name": {"$regex": "(" * 3000 + ")" * 3000}})}),
    Case("regex-huge-repeat", "GET", "/classes/{cls}", 400, 102,
         params={"where": json.dumps({"name": {"$regex": "a{99999999999}"}})}),
    Case("regex-lone-surrogate", "GET", "/classes/{cls}", 200, None,  # parse: 200, as U+FFFD
         params={"where": '{"name":{"$regex":"\\ud800"}}'}, expect=lambda b: b == {"results": []}),
    # -- text PostgreSQL cannot hold ---------------------------------------------------------------------
    # A lone surrogate is U+FFFD, as Node writes it: a name is then invalid, a value is stored.
    Case("lone-surrogate-in-field-name", "POST", "/classes/{cls}", 400, 105, content=b'{"a\\ud800":1}',
         headers=JSON, error="Invalid field name: a\ufffd."),  # was an HTML 500 page
    Case("lone-surrogate-in-value", "POST", "/classes/{cls}", 201, None, content=b'{"text":"x\\udfffy"}',
         headers=JSON, writes=1),
    Case("lone-surrogate-raw-utf8", "POST", "/classes/{cls}", 201, None, content=b'{"text":"x\xed\xa0\x80y"}',
         headers=JSON, writes=1),
    Case("lone-surrogate-in-where", "GET", "/classes/{cls}", 200, None, params={"where": '{"name":"x\\ud800"}'}),
    # parse: 500 for each NUL; PostgreSQL text and jsonb cannot hold it.
    Case("nul-in-string", "POST", "/classes/{cls}", 400, 111, content=b'{"text":"x\\u0000y"}', headers=JSON,
         error="strings may not contain the NUL character (\\u0000)"),
    Case("nul-in-string-update", "PUT", "/classes/{cls}/{oid}", 400, 111, content=b'{"name":"\\u0000"}', headers=JSON),
    Case("nul-in-array", "POST", "/classes/{cls}", 400, 111, content=b'{"tags":["\\u0000"]}', headers=JSON),
    Case("nul-in-nested-key", "POST", "/classes/{cls}", 400, 111, content=b'{"o":{"a\\u0000":1}}', headers=JSON),
    Case("nul-in-pointer", "POST", "/classes/{cls}", 400, 111, headers=JSON,
         content=b'{"p":{"__type":"Pointer","className":"A","objectId":"x\\u0000"}}'),
    Case("nul-in-add", "PUT", "/classes/{cls}/{oid}", 400, 111, headers=JSON,
         content=b'{"tags":{"__op":"AddUnique","objects":["\\u0000"]}}'),
    Case("nul-in-acl-key", "POST", "/classes/{cls}", 400, 123, content=b'{"ACL":{"a\\u0000":{"read":true}}}',
         headers=JSON),
    Case("nul-in-where", "GET", "/classes/{cls}", 400, 102, params={"where": '{"name":"\\u0000"}'}),
    Case("nul-in-object-id-get", "GET", "/classes/{cls}/ab%00cd", 404, 101, error="Object not found."),
    Case("nul-in-object-id-put", "PUT", "/classes/{cls}/ab%00cd", 404, 101, json={"score": 2}),
    Case("nul-in-object-id-delete", "DELETE", "/classes/{cls}/ab%00cd", 404, 101),
    Case("nul-in-object-id-user", "GET", "/users/ab%00cd", 404, 101),
    Case("nul-in-class-name-find", "GET", "/classes/A%00b", 200, None),  # as any invalid class name
    Case("nul-in-class-name-create", "POST", "/classes/A%00b", 400, 107, json={"a": 1}),
    Case("nul-in-class-name-schema", "GET", "/schemas/A%00b", 400, 103, headers=MASTER,  # parse: the same
         error="Class A\x00b does not exist."),
    Case("nul-in-batch-object-id", "POST", "/batch", 200, None, json={"requests": [
        {"method": "PUT", "path": "/parse/classes/{cls}/ab\x00cd", "body": {"score": 2}},
        {"method": "DELETE", "path": "/parse/classes/{cls}/ab\x00cd"}]}, expect=_items("101", "101")),
    Case("field-name-with-trailing-newline", "POST", "/classes/{cls}", 400, 105, json={"a\n": 1},
         error="Invalid field name: a\n."),  # parse: the same
    # -- dates ------------------------------------------------------------------------------------------
    Case("relative-time-out-of-range", "GET", "/classes/{cls}", 400, 107,  # parse: 500
         params={"where": json.dumps({"createdAt": {"$lt": {"$relativeTime": "in 99999999999999999 years"}}})}),
    Case("relative-time-nan", "GET", "/classes/{cls}", 400, 107,  # parse: the same
         params={"where": json.dumps({"createdAt": {"$lt": {"$relativeTime": "in nan years"}}})}),
    Case("date-beyond-9999-in-where", "GET", "/classes/{cls}", 400, 102,
         params={"where": json.dumps({"createdAt": {"$lt": {"__type": "Date", "iso": "9999-12-31T23:59:59.999-14:00"}}})}),
    # -- __type that is not a type name (parse: nested ones are stored as objects; 111 at the top) --------
    *[Case(f"type-{kind}-{where}", "POST", "/classes/{cls}", 400, 111, json={"v": wrap({"__type": bad})})
      for kind, bad in (("list", []), ("object", {}), ("number", 5)) for where, wrap in (
          ("top", lambda v: v), ("in-array", lambda v: [v]), ("in-object", lambda v: {"k": v}))],
    Case("type-list-in-where", "GET", "/classes/{cls}", 400, 102, params={"where": '{"a":[{"__type":[]}]}'}),
    Case("type-object-in-where-in", "GET", "/classes/{cls}", 400, 102, params={"where": '{"a":{"$in":[{"__type":{}}]}}'}),
    Case("type-number-in-where", "GET", "/classes/{cls}", 400, 102, params={"where": '{"a":{"__type":5}}'}),
    # -- installations (parse: 500 for both) ----------------------------------------------------------------
    Case("installation-id-a-number", "POST", "/installations", 400, 111, json={"installationId": 5, "deviceType": "ios"},
         error="schema mismatch for _Installation.installationId; expected String but got Number"),
    Case("installation-id-an-object", "POST", "/installations", 400, 111,
         json={"installationId": {"a": 1}, "deviceType": "ios"}),
    # -- batch: every request fails alone -------------------------------------------------------------------
    Case("batch-get-params-a-string", "POST", "/batch", 200, None, writes=1, json={"requests": [  # parse: the same
        {"method": "GET", "path": "/parse/classes/{cls}", "params": "x"},
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 2}}]}, expect=_items("success", "success")),
    Case("batch-get-body-a-list", "POST", "/batch", 200, None, writes=1, json={"requests": [  # parse: the same
        {"method": "GET", "path": "/parse/classes/{cls}", "body": [1]},
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 2}}]}, expect=_items("102", "success")),
    Case("batch-bad-items-beside-good-ones", "POST", "/batch", 200, None, writes=1, json={"requests": [
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"text": "\x00"}},
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"v": {"__type": []}}},
        {"method": "GET", "path": "/parse/classes/{cls}", "params": {"where": {"a": {"$regex": "a{1,999}"}}}},
        {"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 3}}]},
         expect=_items("111", "111", "102", "success")),
    # -- keys --------------------------------------------------------------------------------------------
    Case("missing-app-id-get", "GET", "/classes/{cls}", 403, None, app_id=False, error="unauthorized"),
    Case("missing-app-id-post", "POST", "/classes/{cls}", 403, None, json={"score": 2}, app_id=False,
         error="unauthorized"),
    Case("missing-app-id-unknown-route", "GET", "/nothere", 403, None, app_id=False, error="unauthorized"),
    Case("wrong-app-id", "GET", "/classes/{cls}", 403, None, headers={"X-Parse-Application-Id": "WRONG"},
         error="unauthorized"),
    Case("wrong-app-id-post", "POST", "/classes/{cls}", 403, None, json={"score": 2},
         headers={"X-Parse-Application-Id": "WRONG"}, error="unauthorized"),
    Case("wrong-master-key-is-a-normal-request", "POST", "/classes/{cls}", 201, None, json={"score": 2},
         headers={"X-Parse-Master-Key": "wrong"}, writes=1),
    Case("wrong-master-key-get", "GET", "/classes/{cls}", 200, None, headers={"X-Parse-Master-Key": "wrong"}),
    Case("wrong-master-key-master-route", "GET", "/serverInfo", 403, None, headers={"X-Parse-Master-Key": "wrong"},
         error="Permission denied"),
    Case("rest-key-not-configured-is-ignored", "GET", "/classes/{cls}", 200, None,
         headers={"X-Parse-REST-API-Key": "whatever"}),
    Case("client-key-missing", "GET", "/classes/{cls}", 403, None, server="keyed", error="unauthorized"),
    Case("client-key-missing-post", "POST", "/classes/{cls}", 403, None, json={"score": 2}, server="keyed",
         error="unauthorized"),
    Case("client-key-wrong", "GET", "/classes/{cls}", 403, None, server="keyed",
         headers={"X-Parse-REST-API-Key": "nope"}, error="unauthorized"),
    Case("client-key-right", "POST", "/classes/{cls}", 201, None, json={"score": 2}, server="keyed",
         headers={"X-Parse-REST-API-Key": "rk"}, writes=1),
    Case("client-key-master-instead", "GET", "/classes/{cls}", 200, None, server="keyed",
         headers={"X-Parse-Master-Key": "test-master"}),
    Case("invalid-session-token", "GET", "/classes/{cls}", 400, 209, headers={"X-Parse-Session-Token": "r:invalid"},
         error="Invalid session token"),
    Case("invalid-session-token-post", "POST", "/classes/{cls}", 400, 209, json={"score": 2},
         headers={"X-Parse-Session-Token": "r:invalid"}, error="Invalid session token"),
    Case("invalid-session-token-body", "POST", "/classes/{cls}", 400, 209,
         json={"_method": "GET", "_SessionToken": "r:invalid"}, error="Invalid session token"),
    # -- queries -----------------------------------------------------------------------------------------
    Case("unknown-where-operator", "GET", "/classes/{cls}", 400, 102,
         params={"where": json.dumps({"score": {"$foo": 1}})}),  # parse (Postgres): 119
    Case("unknown-top-level-operator", "GET", "/classes/{cls}", 400, 105, params={"where": json.dumps({"$foo": 1})},
         error="Invalid key name: $foo"),
    Case("where-not-json", "GET", "/classes/{cls}", 400, 107, params={"where": "{not json"}),
    Case("where-a-number", "GET", "/classes/{cls}", 400, 102, params={"where": "5"}),  # parse: 500
    Case("in-not-an-array", "GET", "/classes/{cls}", 400, 102,
         params={"where": json.dumps({"score": {"$in": 5}})}),  # parse: 107 "bad $in value"
    Case("where-bad-key", "GET", "/classes/{cls}", 400, 105, params={"where": json.dumps({"a-b": 1})}),
    Case("limit-abc", "GET", "/classes/{cls}", 400, 102, params={"limit": "abc"}),  # parse: 500
    Case("skip-abc", "GET", "/classes/{cls}", 400, 102, params={"skip": "abc"}),  # parse: 500
    Case("unknown-query-parameter", "GET", "/classes/{cls}", 400, 102, params={"foo": "bar"},
         error="Invalid parameter for query: foo"),
    Case("unknown-query-parameter-sdk-form", "POST", "/classes/{cls}", 400, 102,
         json={"_method": "GET", "_ClientVersion": "js5", "foo": 1}, error="Invalid parameter for query: foo"),
    Case("order-invalid-name", "GET", "/classes/{cls}", 400, 105, params={"order": "$bad"},
         error="Invalid field name: $bad."),
    # -- names -----------------------------------------------------------------------------------------------
    *[Case(f"invalid-field-name-{name}", "POST", "/classes/{cls}", 400, 105, json={name: 1, "ok": 2},
           error=f"Invalid field name: {name}.") for name in ("1bad", "$x", "_private", "a-b", "a b")],
    Case("invalid-field-name-put", "PUT", "/classes/{cls}/{oid}", 400, 105, json={"score": 5, "1bad": 1},
         error="Invalid field name: 1bad."),
    *[Case(f"invalid-class-name-{name}", "POST", f"/classes/{name}", 400, 107, json={"a": 1},
           error="schema class name does not revalidate") for name in ("1Bad", "_Bad", "Bad-Name")],
    Case("invalid-class-name-put", "PUT", "/classes/1Bad/abc", 400, 107, json={"a": 1},
         error="schema class name does not revalidate"),
    Case("invalid-class-name-get", "GET", "/classes/1Bad/abc", 404, 101, error="Object not found."),
    Case("invalid-class-name-delete", "DELETE", "/classes/1Bad/abc", 404, 101, error="Object not found for delete."),
    Case("invalid-class-name-find", "GET", "/classes/1Bad", 200, None),
    Case("objectId-in-post-body", "POST", "/classes/{cls}", 400, 105, json={"objectId": "myOwnId123", "score": 2},
         error="objectId is an invalid field name."),
    Case("objectId-in-post-body-master", "POST", "/classes/{cls}", 400, 105, json={"objectId": "myOwnId123"},
         headers={"X-Parse-Master-Key": "test-master"}, error="objectId is an invalid field name."),
    # -- types --------------------------------------------------------------------------------------------------
    Case("type-mismatch-create", "POST", "/classes/{cls}", 400, 111, json={"brandNew": 1, "score": "x"},
         error="schema mismatch for {cls}.score; expected Number but got String"),
    Case("type-mismatch-update", "PUT", "/classes/{cls}/{oid}", 400, 111, json={"name": "changed", "score": "x"},
         error="schema mismatch for {cls}.score; expected Number but got String"),
    Case("type-mismatch-date", "POST", "/classes/{cls}", 400, 111,
         json={"score": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
         error="schema mismatch for {cls}.score; expected Number but got Date"),
    Case("type-mismatch-array", "POST", "/classes/{cls}", 400, 111, json={"score": [1]},
         error="schema mismatch for {cls}.score; expected Number but got Array"),
    Case("type-mismatch-object", "POST", "/classes/{cls}", 400, 111, json={"score": {"a": 1}},
         error="schema mismatch for {cls}.score; expected Number but got Object"),
    Case("increment-on-string-field", "PUT", "/classes/{cls}/{oid}", 400, 111,
         json={"name": {"__op": "Increment", "amount": 1}},
         error="schema mismatch for {cls}.name; expected String but got Number"),
    Case("add-on-number-field", "PUT", "/classes/{cls}/{oid}", 400, 111, json={"score": {"__op": "Add", "objects": [1]}}),
    Case("created-at-string", "POST", "/classes/{cls}", 400, 111, json={"createdAt": "2001-01-01T00:00:00.000Z"},
         error="schema mismatch for {cls}.createdAt; expected Date but got String"),
    Case("invalid-date", "POST", "/classes/{cls}", 400, 111, json={"d": {"__type": "Date", "iso": "not a date"}}),
    Case("unknown-type", "POST", "/classes/{cls}", 400, 111, json={"d": {"__type": "Bogus"}}),
    Case("bad-pointer", "POST", "/classes/{cls}", 400, 111, json={"p": {"__type": "Pointer", "className": "X"}}),
    Case("bad-bytes", "POST", "/classes/{cls}", 400, 111, json={"b": {"__type": "Bytes", "base64": "***"}}),
    Case("geopoint-latitude-out-of-range", "POST", "/classes/{cls}", 400, 107,
         json={"geo": {"__type": "GeoPoint", "latitude": 100, "longitude": 0}}),  # parse: writes, then 500
    Case("geopoint-longitude-out-of-range", "POST", "/classes/{cls}", 400, 107,
         json={"geo": {"__type": "GeoPoint", "latitude": 0, "longitude": 200}}),
    Case("geopoint-not-numbers", "POST", "/classes/{cls}", 400, 107,
         json={"geo": {"__type": "GeoPoint", "latitude": "1", "longitude": 0}}),
    Case("polygon-too-short", "POST", "/classes/{cls}", 400, 107,
         json={"poly": {"__type": "Polygon", "coordinates": [[0, 0], [1, 1]]}}),
    Case("nested-key-with-dollar", "POST", "/classes/{cls}", 400, 121, json={"o": {"$bad": 1}}),
    Case("invalid-acl", "POST", "/classes/{cls}", 400, 123, json={"ACL": {"*": {"read": "yes"}}}),
    # -- operators ------------------------------------------------------------------------------------------------
    Case("unknown-op", "PUT", "/classes/{cls}/{oid}", 400, 107, json={"score": {"__op": "Bogus"}}),  # parse: 500
    Case("unknown-op-create", "POST", "/classes/{cls}", 400, 107, json={"score": {"__op": "Bogus"}}),
    Case("increment-string-amount", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"score": {"__op": "Increment", "amount": "5"}}),  # parse: writes 6, then 500
    Case("increment-no-amount", "PUT", "/classes/{cls}/{oid}", 400, 107, json={"score": {"__op": "Increment"}}),
    Case("increment-null-amount", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"score": {"__op": "Increment", "amount": None}}),
    Case("increment-bool-amount", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"score": {"__op": "Increment", "amount": True}}),
    Case("increment-string-amount-create", "POST", "/classes/{cls}", 400, 107,
         json={"score": {"__op": "Increment", "amount": "5"}}),
    Case("add-non-array", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"tags": {"__op": "Add", "objects": "notarray"}}),  # parse: 500
    # A Batch op may only hold relation operators; parse (Postgres): 119.
    Case("batch-op-not-relations", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"score": {"__op": "Batch", "ops": [{"__op": "Increment", "amount": 1}]}}),
    Case("add-relation-not-pointers", "PUT", "/classes/{cls}/{oid}", 400, 107,
         json={"likes": {"__op": "AddRelation", "objects": [1]}}),
    Case("add-relation-two-classes", "PUT", "/classes/{cls}/{oid}", 400, 111,
         json={"likes": {"__op": "AddRelation", "objects": [
             {"__type": "Pointer", "className": "A", "objectId": "a"},
             {"__type": "Pointer", "className": "B", "objectId": "b"}]}}),
    Case("relation-on-a-number-field", "PUT", "/classes/{cls}/{oid}", 400, 111,
         json={"score": {"__op": "AddRelation", "objects": [{"__type": "Pointer", "className": "A", "objectId": "a"}]}},
         error="schema mismatch for {cls}.score; expected Number but got Relation<A>"),
    # (routes no handler serves: tests/api/test_unknown_routes.py, Parse answers them with an HTML page)
    # -- batch -----------------------------------------------------------------------------------------------------
    Case("batch-requests-not-array", "POST", "/batch", 400, 107, json={"requests": {"a": 1}},
         error="requests must be an array"),
    Case("batch-no-requests", "POST", "/batch", 400, 107, json={}, error="requests must be an array"),
    Case("batch-path-without-prefix", "POST", "/batch", 400, 107,
         json={"requests": [{"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 3}},
                            {"method": "POST", "path": "/classes/{cls}", "body": {"score": 4}}]},
         error="cannot route batch path /classes/{cls}"),
    Case("batch-transaction-type-mismatch", "POST", "/batch", 400, 111,  # parse: 500 {"code":1,...}
         json={"transaction": True, "requests": [
             {"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 3}},
             {"method": "PUT", "path": "/parse/classes/{cls}/{oid}", "body": {"score": {"__op": "Increment", "amount": 1}}},
             {"method": "PUT", "path": "/parse/classes/{cls}/{oid}", "body": {"score": "x"}}]}),
    Case("batch-transaction-bad-op", "POST", "/batch", 400, 107,
         json={"transaction": True, "requests": [
             {"method": "POST", "path": "/parse/classes/{cls}", "body": {"score": 3}},
             {"method": "PUT", "path": "/parse/classes/{cls}/{oid}", "body": {"score": {"__op": "Bogus"}}}]}),
]


def _fill(value: Any, cls: str, oid: str) -> Any:
    if isinstance(value, str):
        return value.replace("{cls}", cls).replace("{oid}", oid)
    if isinstance(value, list):
        return [_fill(v, cls, oid) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, cls, oid) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def keyed_server(admin_dsn: str):
    """A second Parsnip that requires a REST API key ("rk") from clients."""
    name = "parsnip_k_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--restAPIKey", "rk")
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(request, parsnip_server, class_name, case: Case):
    server = request.getfixturevalue("keyed_server") if case.server == "keyed" else parsnip_server
    trusted = {"X-Parse-Application-Id": server.app_id, "X-Parse-Master-Key": server.master_key}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        r = http.post(f"/classes/{class_name}", json=SEED, headers=trusted)
        assert r.status_code == 201, r.text
        oid = r.json()["objectId"]
        seeded = http.get(f"/classes/{class_name}/{oid}", headers=trusted).json()

        headers = {"X-Parse-Application-Id": server.app_id} if case.app_id else {}
        headers.update(case.headers)
        kwargs: dict[str, Any] = {"params": case.params, "headers": headers}
        if case.content is not None:
            kwargs["content"] = case.content
        elif case.json is not UNSET:
            kwargs["json"] = _fill(case.json, class_name, oid)
        r = http.request(case.method, _fill(case.path, class_name, oid), **kwargs)

        assert r.status_code == case.status, r.text[:500]
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers.get("content-type")
        body = r.json()
        if case.expect is not None:
            assert case.expect(body), body
        if case.status >= 400:
            assert isinstance(body, dict) and isinstance(body.get("error"), str), body
            assert body.get("code") == case.code, body
            if case.error is not None:
                assert body["error"] == _fill(case.error, class_name, oid)

        # Nothing was written beyond what the case allows, and the seeded object is untouched.
        r = http.get(f"/classes/{class_name}", params={"count": 1, "limit": 0}, headers=trusted)
        assert r.json()["count"] == 1 + case.writes
        assert http.get(f"/classes/{class_name}/{oid}", headers=trusted).json() == seeded
        if case.writes == 0:
            schema_probe = {"where": json.dumps({"$or": [{"brandNew": {"$exists": True}}, {"ok": {"$exists": True}}]})}
            r = http.get(f"/classes/{class_name}", params=schema_probe, headers=trusted)
            assert r.json() == {"results": []}


# -- the rows above, where one status is not the whole story -------------------------------------------

def _raw_exchange(url: str, data: bytes, wait: float) -> tuple[float, bytes]:
    """Send raw bytes on a new connection; (seconds until the first answer, the answer so far)."""
    parts = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=wait) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    return time.monotonic() - started, answer


def test_a_body_shorter_than_its_content_length_gets_408_when_it_stops_coming(parsnip_server, class_name):
    """The client declares 100 bytes and sends 7: after BODY_IDLE_TIMEOUT (10 s) without a byte
    it gets 408 with Parse's TIMEOUT code and `Connection: close` (it waited for ever before)."""
    head = (f"POST /parse/classes/{class_name} HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {parsnip_server.app_id}"
            "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode()
    took, answer = _raw_exchange(parsnip_server.url, head + b'{"a":1}', wait=60)
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in rest.lower()
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {
        "code": 124, "error": "no part of the request body came for 10 s"}
    assert 9 < took < 30, took  # generous: the machine is shared


def test_numbers_are_read_as_javascript_reads_them(api, parsnip_server, class_name):
    """Integers past 2^53 become the double JavaScript would read (Parse stores 2^64 as
    18446744073709552000); such an object can still be changed (its state goes to the log's
    msgpack, which holds no integer of 2^64 or more)."""
    r = api.post(f"/classes/{class_name}", content=b'{"big":18446744073709551616,"n53":9007199254740993,"n":1}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    oid = r.json()["objectId"]
    stored = api.get(f"/classes/{class_name}/{oid}")
    assert b'"big": 18446744073709552000' in stored.content or b'"big":18446744073709552000' in stored.content
    assert stored.json()["n53"] == 9007199254740992
    r = api.put(f"/classes/{class_name}/{oid}", content=b'{"n":{"__op":"Increment","amount":18446744073709551616},'
                b'"tags":{"__op":"AddUnique","objects":[1]}}', headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["n"] == 2**64 and r.json()["tags"] == [1]
    assert float(api.get(f"/classes/{class_name}/{oid}").json()["n"]) == 2.0**64  # one JavaScript number


def test_a_lone_surrogate_is_stored_as_a_replacement_character(api, class_name):
    """As Node writes a JavaScript string with a lone surrogate to PostgreSQL."""
    r = api.post(f"/classes/{class_name}", content=b'{"text":"x\\ud800y","ok":"\\ud83d\\ude00"}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    got = api.get(f"/classes/{class_name}/{r.json()['objectId']}").json()
    assert got["text"] == "x\ufffdy" and got["ok"] == "\U0001F600"


def test_a_class_holds_at_most_1500_fields(api, parsnip_server, class_name):
    """Added over several writes as in one: the write that would pass the bound is refused
    whole (107, as Parse Server on PostgreSQL answers past its column limit)."""
    trusted = {"X-Parse-Master-Key": parsnip_server.master_key}
    r = api.post(f"/classes/{class_name}", json={f"a{i}": i for i in range(1000)}, headers=trusted)
    assert r.status_code == 201, r.text
    r = api.post(f"/classes/{class_name}", json={f"b{i}": i for i in range(501)}, headers=trusted)
    assert (r.status_code, r.json()["code"]) == (400, 107), r.text
    assert "at most 1500 fields" in r.json()["error"]
    r = api.post(f"/classes/{class_name}", json={f"b{i}": i for i in range(500)}, headers=trusted)
    assert r.status_code == 201, r.text
    assert api.get(f"/classes/{class_name}", params={"count": 1, "limit": 0}).json()["count"] == 2


@pytest.fixture
def own_server(fresh_dsn):
    info = start_server(fresh_dsn)
    yield info
    stop_server(info)


def test_an_unexpected_failure_is_a_json_500_and_one_log_line_with_the_request_id(own_server, class_name):
    """A fault no client input explains (PostgreSQL refusing the row: a constraint added behind
    the server's back) answers Parse's {"code":1}, never a page or a traceback, and is logged
    once with the route and the X-Parse-Request-Id."""
    headers = {"X-Parse-Application-Id": own_server.app_id, "X-Parse-Master-Key": own_server.master_key}
    with httpx.Client(base_url=own_server.url, timeout=30, headers=headers) as http:
        oid = http.post(f"/classes/{class_name}", json={"n": 1}).json()["objectId"]
        _admin_sql(own_server.dsn, f'ALTER TABLE "p_{class_name}" ADD CONSTRAINT no_writes CHECK (false) NOT VALID')
        rid = "rid-" + secrets.token_hex(6)
        r = http.put(f"/classes/{class_name}/{oid}", json={"n": 2}, headers={"X-Parse-Request-Id": rid})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"code": 1, "error": "Internal server error."}
    time.sleep(0.5)  # the log line is written before the answer; give the file a moment
    lines = [line for line in Path(own_server.output).read_text().splitlines() if rid in line]
    assert len(lines) == 1, lines
    assert f"/parse/classes/{class_name}/{oid}" in lines[0] and "PUT" in lines[0]


async def test_an_exception_escaping_quart_is_still_a_json_500():
    """The last boundary (api/app.py: _guarded): whatever escapes the app before an answer
    started (here an app that fails outright) becomes Parse's JSON 500, never hypercorn's page."""
    async def failing(scope, receive, send):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/parse/x", "headers": [(b"x-parse-request-id", b"r1")]}
    await _guarded(failing)(scope, None, send)
    assert sent[0]["status"] == 500
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"application/json")
    assert json.loads(sent[1]["body"]) == {"code": 1, "error": "Internal server error."}


def test_an_answer_quoting_a_lone_surrogate_is_still_json():
    """A message that quotes a client's text with a lone surrogate is escaped as JavaScript's
    JSON.stringify escapes it, not a failure of the answer (which was an HTML 500 page)."""
    assert json.loads(Reply({"code": 105, "error": "Invalid field name: a\ud800."}).encode()) == {
        "code": 105, "error": "Invalid field name: a\ud800."}


@pytest.mark.parametrize("path", ["/classes/Bad%0AName", "/health", "/../elsewhere"])
def test_an_answer_given_before_the_body_leaves_the_connection_usable(parsnip_server, path):
    """A path no route takes, answered at once: its body is read all the same, so the same
    keep-alive connection carries the next request (it hung until the client gave up)."""
    with httpx.Client(base_url=parsnip_server.url, timeout=10,
                      headers={"X-Parse-Application-Id": parsnip_server.app_id}) as http:
        r = http.post(path, content=b"[" * 100_000)
        assert r.status_code in (200, 404) and r.headers["content-type"].startswith("application/json")
        assert http.get("/health").json() == {"status": "ok"}
