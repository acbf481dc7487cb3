"""Bad input, one table: each case's HTTP status and Parse code, an answer that is always JSON
(never a 500), and, where a write was attempted, that nothing was written.

Expectations follow Parse Server 9.10 except where Parse itself answers 500 or an HTML page
(then Parsnip refuses cleanly with a 4xx and a Parse code) — those rows say `parse:` what Parse does.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

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


BIG = 21 * 1024 * 1024  # over the default maxUploadSize of 20mb

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
    # -- routes ---------------------------------------------------------------------------------------------------
    Case("unknown-route", "GET", "/nothere", 404, 107),  # parse: 404 Express HTML page
    Case("put-without-object-id", "PUT", "/classes/{cls}", 404, 107, json={"score": 2}),
    Case("delete-without-object-id", "DELETE", "/classes/{cls}", 404, 107),
    Case("post-with-object-id", "POST", "/classes/{cls}/{oid}", 404, 107, json={"score": 2}),
    Case("patch", "PATCH", "/classes/{cls}/{oid}", 404, 107, json={"score": 2}),
    Case("sdk-method-patch", "POST", "/classes/{cls}", 404, 107, json={"_method": "PATCH"}),
    Case("classes-without-class", "GET", "/classes/", 404, 107),
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
