"""The schema API with the master key, checked against what Parse Server 9.10 (on PostgreSQL)
answers: statuses, codes, messages and the JSON key for key, in Parse's order.

Where Parse Server answers 500 (an empty index, deleting `_id_`, `fields: null`), Parsnip
refuses cleanly or accepts, and the case says `parse:` what Parse does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import asyncpg
import httpx
import pytest

from parsnip.core.services.query_options import find_options
from parsnip.core.commands import CREATE_CLASS, Create, SchemaChange
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.projections import reader
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

MASTER = Context(master=True)

RO_KEY = "read-only-master"
DEFAULT_CLP = {
    "ACL": {"*": {"read": True, "write": True}},
    "find": {"*": True}, "get": {"*": True}, "count": {"*": True}, "create": {"*": True},
    "update": {"*": True}, "delete": {"*": True}, "addField": {"*": True}, "protectedFields": {"*": []},
}
EMPTY_CLP = {op: {} for op in ("find", "get", "count", "create", "update", "delete", "addField", "protectedFields")}
BASE = {"objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
        "ACL": {"type": "ACL"}}
S, N = {"type": "String"}, {"type": "Number"}
SYSTEM = {
    "_User": {"username": S, "password": S, "email": S, "emailVerified": {"type": "Boolean"},
              "authData": {"type": "Object"}},
    "_Role": {"name": S, "users": {"type": "Relation", "targetClass": "_User"},
              "roles": {"type": "Relation", "targetClass": "_Role"}},
    "_Session": {"user": {"type": "Pointer", "targetClass": "_User"}, "installationId": S, "sessionToken": S,
                 "expiresAt": {"type": "Date"}, "createdWith": {"type": "Object"}},
    "_Installation": {"installationId": S, "deviceToken": S, "channels": {"type": "Array"}, "deviceType": S,
                      "pushType": S, "GCMSenderId": S, "timeZone": S, "localeIdentifier": S, "badge": N,
                      "appVersion": S, "appName": S, "appIdentifier": S, "parseVersion": S},
}
# The class most tests start from, and how Parse answers its creation and then reads it back.
SEED_FIELDS = {"name": S, "n": N, "p": {"type": "Pointer", "targetClass": "_User"},
               "r": {"type": "Relation", "targetClass": "Foo"}}
STORED_ORDER = ["n", "p", "r", "name"]  # jsonb order: shorter keys first


def ordered(value: Any) -> Any:
    """A JSON value with every object as a list of pairs, so comparing it compares key order too."""
    return json.loads(json.dumps(value), object_pairs_hook=list)


def same(r: httpx.Response, expected: Any) -> None:
    assert json.loads(r.text, object_pairs_hook=list) == ordered(expected), r.text


def view(cls: str, fields: dict, clp: dict | None = None, indexes: dict | None = None) -> dict:
    out = {"className": cls, "fields": {**BASE, **fields}, "classLevelPermissions": clp or DEFAULT_CLP}
    if indexes:
        out["indexes"] = indexes
    return out


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(admin_dsn: str):
    """A Parsnip of its own (a fresh database, so its schema is known) with a read-only master key."""
    name = "parsnip_sc_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--readOnlyMasterKey", RO_KEY)
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _client(server, **headers) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30,
                        headers={"X-Parse-Application-Id": server.app_id, **headers})


@pytest.fixture
def master(server):
    with _client(server, **{"X-Parse-Master-Key": server.master_key}) as c:
        yield c


@pytest.fixture
def anonymous(server):
    with _client(server) as c:
        yield c


@pytest.fixture
def read_only(server):
    with _client(server, **{"X-Parse-Master-Key": RO_KEY}) as c:
        yield c


def sql(server, query: str, *args: Any) -> list:
    async def run() -> list:
        conn = await asyncpg.connect(server.dsn)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def log_length(server) -> int:
    return sql(server, "SELECT count(*) FROM parsnip_events")[0][0]


def pg_indexes(server, cls: str) -> dict[str, str]:
    rows = sql(server, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", "p_" + cls)
    return {r[0]: r[1] for r in rows}


@pytest.fixture
def seeded(master, class_name) -> str:
    r = master.post(f"/schemas/{class_name}", json={"className": class_name, "fields": SEED_FIELDS})
    assert r.status_code == 200, r.text
    return class_name


# -- reading -----------------------------------------------------------------------------------------


def test_a_fresh_server_has_user_and_role(master):
    r = master.get("/schemas")
    assert r.status_code == 200
    results = r.json()["results"]
    assert ordered(results[:2]) == ordered([view("_User", SYSTEM["_User"]), view("_Role", SYSTEM["_Role"])])


@pytest.mark.parametrize("cls", ["_User", "_Role"])
def test_built_in_classes_read_and_cannot_be_created_again(master, cls):
    same(master.get(f"/schemas/{cls}"), view(cls, SYSTEM[cls]))
    r = master.post(f"/schemas/{cls}", json={})
    assert (r.status_code, r.json()) == (400, {"code": 103, "error": f"Class {cls} already exists."})


@pytest.mark.parametrize("cls", ["_Session", "_Installation"])
def test_system_classes_are_created_with_their_default_fields(master, cls):
    r = master.post(f"/schemas/{cls}", json={})
    assert r.status_code == 200, r.text
    created = {k: v for k, v in BASE.items() if k != "ACL"}
    same(r, {"className": cls, "fields": {**created, **SYSTEM[cls], "ACL": {"type": "ACL"}},
             "classLevelPermissions": DEFAULT_CLP})
    same(master.get(f"/schemas/{cls}"), view(cls, SYSTEM[cls]))


def test_classes_parse_keeps_in_memory_are_readable_only(master):
    r = master.get("/schemas/_PushStatus")
    assert r.status_code == 200
    assert r.json()["classLevelPermissions"] == {}
    assert list(r.json()["fields"])[:6] == ["objectId", "createdAt", "updatedAt", "ACL", "pushTime", "source"]
    assert "_PushStatus" not in [c["className"] for c in master.get("/schemas").json()["results"]]


def test_a_missing_class_is_103(master):
    for name in ("NoSuchClass", "1bad"):
        r = master.get(f"/schemas/{name}")
        assert (r.status_code, r.json()) == (400, {"code": 103, "error": f"Class {name} does not exist."})


def test_an_inferred_class_reads_with_its_inferred_fields(master, class_name):
    assert master.post(f"/classes/{class_name}", json={"a": 1, "when": {"__type": "Date", "iso": "2020-01-01T00:00:00Z"}}).status_code == 201
    same(master.get(f"/schemas/{class_name}"), view(class_name, {"a": N, "when": {"type": "Date"}}))
    assert class_name in [c["className"] for c in master.get("/schemas").json()["results"]]


# -- creating ------------------------------------------------------------------------------------------


def test_create_answers_the_class_as_sent_and_reads_back_in_stored_order(master, class_name):
    r = master.post(f"/schemas/{class_name}", json={"className": class_name, "fields": SEED_FIELDS})
    assert r.status_code == 200
    created = {k: v for k, v in BASE.items() if k != "ACL"}
    same(r, {"className": class_name, "fields": {**created, **SEED_FIELDS, "ACL": {"type": "ACL"}},
             "classLevelPermissions": DEFAULT_CLP})
    same(master.get(f"/schemas/{class_name}"), view(class_name, {f: SEED_FIELDS[f] for f in STORED_ORDER}))


def test_create_by_body_class_name(master, class_name):
    r = master.post("/schemas", json={"className": class_name})
    assert r.status_code == 200
    assert r.json()["className"] == class_name


def test_create_with_permissions_indexes_and_field_options(master, server, class_name):
    fields = {"s": {"type": "String", "required": True, "defaultValue": "x"}, "u": {"type": "Number", "defaultValue": 3, "foo": 1}}
    r = master.post(f"/schemas/{class_name}", json={
        "fields": fields, "classLevelPermissions": {"get": {"*": True}}, "indexes": {"byS": {"s": 1}}})
    assert r.status_code == 200, r.text
    clp = {**EMPTY_CLP, "get": {"*": True}}
    created = {k: v for k, v in BASE.items() if k != "ACL"}
    same(r, {"className": class_name, "fields": {**created, **fields, "ACL": {"type": "ACL"}},
             "classLevelPermissions": clp, "indexes": {"byS": {"s": 1}}})
    same(master.get(f"/schemas/{class_name}"), view(
        class_name, {"s": fields["s"], "u": {"foo": 1, "type": "Number", "defaultValue": 3}}, clp,
        {"byS": {"s": 1}, "_id_": {"_id": 1}}))
    assert f"p_{class_name}_i_byS" in pg_indexes(server, class_name)


def test_nulls_read_as_nothing_given(master, class_name):
    """parse: 500 for `fields: null` on create and `indexes: null` on update."""
    r = master.post(f"/schemas/{class_name}", json={"fields": None, "indexes": None})
    assert r.status_code == 200 and list(r.json()["fields"]) == list(BASE)
    r = master.put(f"/schemas/{class_name}", json={"fields": None, "indexes": None})
    same(r, view(class_name, {}))


def test_create_with_empty_indexes_records_none(master, class_name):
    r = master.post(f"/schemas/{class_name}", json={"fields": {"a": N}, "indexes": {}})
    assert "indexes" not in r.json()
    assert "indexes" not in master.get(f"/schemas/{class_name}").json()


CREATE_ERRORS = [
    # (id, path (None: /schemas/{cls}), body, code, message)
    ("invalid-class-name", "/schemas/1bad", {}, 103,
     "Invalid classname: 1bad, classnames can only have alphanumeric characters and _, and must start with an alpha character "),
    ("no-class-name", "/schemas", {}, 135, "POST /schemas needs a class name."),
    ("class-name-mismatch", None, {"className": "Other"}, 103, "Class name mismatch between Other and {cls}."),
    ("object-id-field", None, {"fields": {"objectId": S}}, 136, "field objectId cannot be added"),
    ("acl-field", None, {"fields": {"ACL": {"type": "ACL"}}}, 136, "field ACL cannot be added"),
    ("bad-field-name", None, {"fields": {"1abc": S}}, 105, "invalid field name: 1abc"),
    ("underscore-field-name", None, {"fields": {"_x": S}}, 105, "invalid field name: _x"),
    ("field-named-className", None, {"fields": {"className": S}}, 105, "invalid field name: className"),
    ("field-named-length", None, {"fields": {"length": S}}, 105, "invalid field name: length"),
    ("fields-a-string", None, {"fields": "abc"}, 105, "invalid field name: 0"),
    ("unknown-type", None, {"fields": {"q": {"type": "Foo"}}}, 111, "invalid field type: Foo"),
    ("acl-type", None, {"fields": {"q": {"type": "ACL"}}}, 111, "invalid field type: ACL"),
    ("type-not-a-string", None, {"fields": {"q": {"type": 5}}}, 107, "invalid JSON"),
    ("type-given-as-string", None, {"fields": {"q": "String"}}, 107, "invalid JSON"),
    ("pointer-without-class", None, {"fields": {"q": {"type": "Pointer"}}}, 135, "type Pointer needs a class name"),
    ("relation-target-not-string", None, {"fields": {"q": {"type": "Relation", "targetClass": 5}}}, 107, "invalid JSON"),
    ("pointer-to-invalid-class", None, {"fields": {"q": {"type": "Pointer", "targetClass": "1x"}}}, 103,
     "Invalid classname: 1x, classnames can only have alphanumeric characters and _, and must start with an alpha character "),
    ("two-geopoints", None, {"fields": {"g1": {"type": "GeoPoint"}, "g2": {"type": "GeoPoint"}}}, 111,
     "currently, only one GeoPoint field may exist in an object. Adding g2 when g1 already exists."),
    ("default-of-another-type", None, {"fields": {"m": {"type": "Number", "defaultValue": "str"}}}, 111,
     "schema mismatch for {cls}.m default value; expected Number but got String"),
    ("required-relation", None, {"fields": {"r": {"type": "Relation", "targetClass": "X", "required": True}}}, 111,
     "The 'required' option is not applicable for Relation<X>"),
    ("index-on-unknown-field", None, {"fields": {"a": N}, "indexes": {"i": {"nope": 1}}}, 102,
     "Field nope does not exist, cannot add index."),
    ("index-delete-unknown", None, {"fields": {"a": N}, "indexes": {"i": {"a": 1}, "j": {"__op": "Delete"}}}, 102,
     "Index j does not exist, cannot delete."),
    ("bad-permissions", None, {"classLevelPermissions": {"find": {"*": False}}}, 107,
     "'false' is not a valid value for class level permissions acl find:*"),
]


@pytest.mark.parametrize("path, body, code, message", [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS])
def test_create_refusals(master, server, class_name, path, body, code, message):
    before = log_length(server)
    r = master.post(path or f"/schemas/{class_name}", json=body)
    assert (r.status_code, r.json()) == (400, {"code": code, "error": message.replace("{cls}", class_name)})
    assert log_length(server) == before
    assert master.get(f"/schemas/{class_name}").status_code == 400


def test_create_an_existing_class_is_103(master, seeded):
    for path, body in ((f"/schemas/{seeded}", {}), ("/schemas", {"className": seeded})):
        r = master.post(path, json=body)
        assert (r.status_code, r.json()) == (400, {"code": 103, "error": f"Class {seeded} already exists."})


# -- updating --------------------------------------------------------------------------------------------

UPDATE_ERRORS = [
    ("field-exists-with-another-type", {"fields": {"name": N}}, 255, "Field name exists, cannot update."),
    ("field-given-without-type", {"fields": {"name": "String"}}, 255, "Field name exists, cannot update."),
    ("default-field-another-type", {"fields": {"objectId": N}}, 255, "Field objectId exists, cannot update."),
    ("delete-unknown-field", {"fields": {"nope": {"__op": "Delete"}}}, 255, "Field nope does not exist, cannot delete."),
    ("delete-default-field", {"fields": {"objectId": {"__op": "Delete"}}}, 136, "field objectId cannot be changed"),
    ("delete-acl", {"fields": {"ACL": {"__op": "Delete"}}}, 136, "field ACL cannot be changed"),
    ("pointer-to-another-class", {"fields": {"p": {"type": "Pointer", "targetClass": "Foo"}}}, 111,
     "schema mismatch for {cls}.p; expected Pointer<_User> but got Pointer<Foo>"),
    ("bad-field-name", {"fields": {"1abc": S}}, 105, "invalid field name: 1abc"),
    ("bad-type", {"fields": {"q": {"type": "Foo"}}}, 111, "invalid field type: Foo"),
    ("second-geopoint", {"fields": {"g1": {"type": "GeoPoint"}, "g2": {"type": "GeoPoint"}}}, 111,
     "currently, only one GeoPoint field may exist in an object. Adding g2 when g1 already exists."),
    ("class-name-mismatch", {"className": "Other"}, 103, "Class name mismatch between Other and {cls}."),
    # classLevelPermissions
    ("clp-unknown-operation", {"classLevelPermissions": {"foo": {"*": True}}}, 107,
     "foo is not a valid operation for class level permissions"),
    ("clp-operation-not-object", {"classLevelPermissions": {"find": True}}, 107,
     "'true' is not a valid value for class level permissions find - must be an object"),
    ("clp-operation-null", {"classLevelPermissions": {"find": None}}, 107,
     "'null' is not a valid value for class level permissions find - must be an object"),
    ("clp-false", {"classLevelPermissions": {"find": {"*": False}}}, 107,
     "'false' is not a valid value for class level permissions acl find:*"),
    ("clp-array-value", {"classLevelPermissions": {"find": {"*": [1, 2]}}}, 107,
     "'1,2' is not a valid value for class level permissions acl find:*"),
    ("clp-bad-key", {"classLevelPermissions": {"find": {"bad key": True}}}, 107,
     "'bad key' is not a valid key for class level permissions"),
    ("clp-pointer-fields-not-array", {"classLevelPermissions": {"find": {"pointerFields": "p"}}}, 107,
     "'p' is not a valid value for find[pointerFields] - expected an array."),
    ("clp-pointer-field-not-user-pointer", {"classLevelPermissions": {"find": {"pointerFields": ["name"]}}}, 107,
     "'name' is not a valid column for class level pointer permissions [object Object]"),
    ("clp-read-user-fields-not-array", {"classLevelPermissions": {"readUserFields": "p"}}, 107,
     "'p' is not a valid value for class level permissions readUserFields - must be an array"),
    ("clp-read-user-fields-unknown", {"classLevelPermissions": {"readUserFields": ["nope"]}}, 107,
     "'nope' is not a valid column for class level pointer permissions readUserFields"),
    ("clp-protected-not-array", {"classLevelPermissions": {"protectedFields": {"*": "name"}}}, 107,
     "'name' is not a valid value for protectedFields[*] - expected an array."),
    ("clp-protect-default-field", {"classLevelPermissions": {"protectedFields": {"*": ["objectId"]}}}, 107,
     "Default field 'objectId' can not be protected"),
    ("clp-protect-unknown-field", {"classLevelPermissions": {"protectedFields": {"*": ["nope"]}}}, 107,
     "Field 'nope' in protectedFields:* does not exist"),
    ("clp-acl-unknown-key", {"classLevelPermissions": {"ACL": {"*": {"read": True, "foo": True}}}}, 107,
     "'foo' is not a valid key for class level permissions acl"),
    ("clp-acl-not-object", {"classLevelPermissions": {"ACL": {"*": True}}}, 107,
     "'true' is not a valid value for class level permissions acl"),
    ("clp-a-string", {"classLevelPermissions": "string"}, 107, "0 is not a valid operation for class level permissions"),
    ("clp-integer-keys-first", {"classLevelPermissions": {"b": 1, "1": 2}}, 107,
     "1 is not a valid operation for class level permissions"),
    # indexes
    ("index-on-unknown-field", {"indexes": {"x": {"nope": 1}}}, 102, "Field nope does not exist, cannot add index."),
    ("index-delete-unknown", {"indexes": {"zz": {"__op": "Delete"}}}, 102, "Index zz does not exist, cannot delete."),
    ("index-empty", {"indexes": {"e": {}}}, 102, "Index e must name at least one field."),  # parse: 500
    ("index-not-object", {"indexes": {"e": 5}}, 102, "Index e must name at least one field."),  # parse: 500
    ("index-text-and-ordered", {"indexes": {"e": {"name": "text", "n": 1}}}, 102, "Index e mixes text and ordered keys."),
    ("index-delete-primary", {"indexes": {"_id_": {"__op": "Delete"}}}, 102, "Index _id_ cannot be deleted."),  # parse: 500
]


@pytest.mark.parametrize("body, code, message", [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS])
def test_update_refusals_change_nothing(master, server, seeded, body, code, message):
    before, schema = log_length(server), master.get(f"/schemas/{seeded}").text
    r = master.put(f"/schemas/{seeded}", json=body)
    assert (r.status_code, r.json()) == (400, {"code": code, "error": message.replace("{cls}", seeded)})
    assert log_length(server) == before
    assert master.get(f"/schemas/{seeded}").text == schema


def test_update_a_missing_class_is_103(master, class_name):
    r = master.put(f"/schemas/{class_name}", json={"fields": {"a": S}})
    assert (r.status_code, r.json()) == (400, {"code": 103, "error": f"Class {class_name} does not exist."})


def test_update_index_errors_after_one_index_exists(master, seeded):
    assert master.put(f"/schemas/{seeded}", json={"indexes": {"byN": {"n": 1}}}).status_code == 200
    r = master.put(f"/schemas/{seeded}", json={"indexes": {"byN": {"n": 1}}})
    assert (r.status_code, r.json()) == (400, {"code": 102, "error": "Index byN exists, cannot update."})


def test_update_without_changes_answers_the_class_and_writes_nothing(master, server, seeded):
    before = log_length(server)
    for body in ({}, {"fields": {"objectId": S, "ACL": {"type": "ACL"}, "name": S}}):
        r = master.put(f"/schemas/{seeded}", json=body)
        same(r, view(seeded, {f: SEED_FIELDS[f] for f in STORED_ORDER}))
    assert log_length(server) == before


def test_add_and_delete_fields(master, seeded):
    r = master.put(f"/schemas/{seeded}", json={"fields": {"extra": {"type": "Boolean"}, "name": S}})
    same(r, view(seeded, {**{f: SEED_FIELDS[f] for f in STORED_ORDER}, "extra": {"type": "Boolean"}}))
    made = master.post(f"/classes/{seeded}", json={"name": "a", "n": 1, "extra": True}).json()
    r = master.put(f"/schemas/{seeded}", json={"fields": {"extra": {"__op": "Delete"}, "name": {"__op": "Delete"}}})
    assert r.status_code == 200
    assert list(r.json()["fields"]) == [*BASE, "n", "p", "r"]
    obj = master.get(f"/classes/{seeded}/{made['objectId']}").json()
    assert "extra" not in obj and "name" not in obj and obj["n"] == 1
    # The name is free again, for any type.
    assert master.put(f"/classes/{seeded}/{made['objectId']}", json={"name": 5}).status_code == 200
    assert master.get(f"/schemas/{seeded}").json()["fields"]["name"] == N


def test_deleting_a_relation_field_forgets_its_members(master, seeded):
    target = master.post("/classes/Foo", json={"x": 1}).json()["objectId"]
    owner = master.post(f"/classes/{seeded}", json={"r": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Foo", "objectId": target}]}}).json()["objectId"]
    related = {"where": json.dumps({"$relatedTo": {"object": {"__type": "Pointer", "className": seeded,
                                                                "objectId": owner}, "key": "r"}})}
    assert len(master.get("/classes/Foo", params=related).json()["results"]) == 1
    assert master.put(f"/schemas/{seeded}", json={"fields": {"r": {"__op": "Delete"}}}).status_code == 200
    assert master.get("/classes/Foo", params=related).json()["results"] == []


@pytest.mark.parametrize("clp, shown", [
    ({"get": {"*": True}}, {**EMPTY_CLP, "get": {"*": True}}),
    ({"find": {"role:Admin": True, "requiresAuthentication": True, "abc123": True}},
     {**EMPTY_CLP, "find": {"abc123": True, "role:Admin": True, "requiresAuthentication": True}}),
    ({"find": {"pointerFields": ["p"]}, "readUserFields": ["p"], "writeUserFields": []},
     {**EMPTY_CLP, "find": {"pointerFields": ["p"]}, "readUserFields": ["p"], "writeUserFields": []}),
    ({"protectedFields": {"userField:p": ["name"], "authenticated": ["name"]}},
     {**EMPTY_CLP, "protectedFields": {"userField:p": ["name"], "authenticated": ["name"]}}),
    ({"ACL": {"role:X": {"write": True}, "abc": {"read": True}}},
     {**EMPTY_CLP, "ACL": {"abc": {"read": True}, "role:X": {"write": True}}}),
    (5, EMPTY_CLP),
    ([], EMPTY_CLP),
    (None, DEFAULT_CLP),
    ("", DEFAULT_CLP),
], ids=["one-operation", "keys-in-jsonb-order", "pointer-permissions", "protected-fields", "acl", "number", "array",
        "null-resets", "empty-string-resets"])
def test_set_class_level_permissions(master, seeded, clp, shown):
    r = master.put(f"/schemas/{seeded}", json={"classLevelPermissions": clp})
    assert r.status_code == 200, r.text
    same(r, view(seeded, {f: SEED_FIELDS[f] for f in STORED_ORDER}, shown))
    same(master.get(f"/schemas/{seeded}"), view(seeded, {f: SEED_FIELDS[f] for f in STORED_ORDER}, shown))


def test_indexes_are_real_and_shown_as_parse_shows_them(master, server, seeded):
    r = master.put(f"/schemas/{seeded}", json={"indexes": {"byN": {"n": 1}, "byNameDesc": {"name": -1, "n": 1}}})
    assert r.status_code == 200
    shown = {"byN": {"n": 1}, "_id_": {"_id": 1}, "byNameDesc": {"n": 1, "name": -1}}
    same(r, view(seeded, {f: SEED_FIELDS[f] for f in STORED_ORDER}, indexes=shown))
    r = master.put(f"/schemas/{seeded}", json={"indexes": {
        "oid": {"objectId": 1}, "cat": {"createdAt": 1}, "txt": {"name": "text"}, "byN": {"__op": "Delete"}}})
    assert list(r.json()["indexes"]) == ["cat", "oid", "txt", "_id_", "byNameDesc"]
    defs = pg_indexes(server, seeded)
    assert f"p_{seeded}_i_byN" not in defs
    assert defs[f"p_{seeded}_i_byNameDesc"].endswith("USING btree (((data -> 'name'::text)) DESC, ((data -> 'n'::text)))")
    assert defs[f"p_{seeded}_i_oid"].endswith("USING btree (object_id)")
    assert defs[f"p_{seeded}_i_cat"].endswith("USING btree (created_at)")
    assert defs[f"p_{seeded}_i_txt"].endswith("USING gin (to_tsvector('english'::regconfig, (data ->> 'name'::text)))")
    # Deleting a field drops the indexes on it (parse: PostgreSQL drops them with the column, but
    # Parse Server goes on listing them).
    r = master.put(f"/schemas/{seeded}", json={"fields": {"name": {"__op": "Delete"}}})
    assert list(r.json()["indexes"]) == ["cat", "oid", "_id_"]
    assert set(pg_indexes(server, seeded)) == {f"p_{seeded}_pkey", f"p_{seeded}_data", f"p_{seeded}_i_oid",
                                               f"p_{seeded}_i_cat"}


def test_an_empty_index_change_records_the_primary_key(master, seeded):
    r = master.put(f"/schemas/{seeded}", json={"indexes": {}})
    assert r.json()["indexes"] == {"_id_": {"_id": 1}}


# -- dropping and purging -----------------------------------------------------------------------------


def test_drop_only_an_empty_class(master, server, seeded):
    for i in range(2):
        master.post(f"/classes/{seeded}", json={"n": i})
    r = master.delete(f"/schemas/{seeded}")
    assert (r.status_code, r.json()) == (400, {
        "code": 255, "error": f"Class {seeded} is not empty, contains 2 objects, cannot drop schema."})
    r = master.delete(f"/purge/{seeded}")
    assert (r.status_code, r.json()) == (200, {})
    assert master.get(f"/classes/{seeded}", params={"count": 1}).json() == {"results": [], "count": 0}
    assert master.get(f"/schemas/{seeded}").status_code == 200  # a purge keeps the class
    assert (master.delete(f"/schemas/{seeded}").json()) == {}
    r = master.get(f"/schemas/{seeded}")
    assert (r.status_code, r.json()) == (400, {"code": 103, "error": f"Class {seeded} does not exist."})
    assert sql(server, "SELECT to_regclass($1)", f'"p_{seeded}"')[0][0] is None
    assert sql(server, "SELECT count(*) FROM parsnip_schema WHERE class_name = $1", seeded)[0][0] == 0
    # The name can be used again, with other fields.
    assert master.post(f"/classes/{seeded}", json={"n": "now a string"}).status_code == 201


def test_drop_and_purge_of_missing_classes_answer_empty(master, server):
    before = log_length(server)
    for path in ("/schemas/NoSuchClass", "/purge/NoSuchClass", "/purge/1bad"):
        r = master.delete(path)
        assert (r.status_code, r.json()) == (200, {})
    assert log_length(server) == before
    r = master.delete("/schemas/1bad")
    assert (r.status_code, r.json()["code"]) == (400, 103)


def test_purge_removes_relation_members(master, server, seeded):
    target = master.post("/classes/Foo", json={"x": 1}).json()["objectId"]
    master.post(f"/classes/{seeded}", json={"r": {"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Foo", "objectId": target}]}})
    assert master.delete(f"/purge/{seeded}").json() == {}
    assert sql(server, "SELECT count(*) FROM parsnip_relations WHERE owner_class = $1", seeded)[0][0] == 0


# -- keys ----------------------------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/schemas", None, "GET"),
    ("GET", "/schemas/{cls}", None, "GET"),
    ("POST", "/schemas/{cls}X", {}, "create"),
    ("POST", "/schemas", {"className": "{cls}Y"}, "create"),
    ("PUT", "/schemas/{cls}", {"fields": {"z": S}}, "update"),
    ("DELETE", "/schemas/{cls}", None, "delete"),
    ("DELETE", "/purge/{cls}", None, "purge"),
]


@pytest.mark.parametrize("method, path, body, verb", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_without_the_master_key_403(anonymous, master, server, seeded, method, path, body, verb):
    before = log_length(server)
    for headers in ({}, {"X-Parse-Master-Key": "wrong"}):
        r = anonymous.request(method, path.replace("{cls}", seeded), headers=headers,
                              json=json.loads(json.dumps(body).replace("{cls}", seeded)) if body is not None else None)
        assert (r.status_code, r.json()) == (403, {"error": "Permission denied"})
    assert log_length(server) == before


@pytest.mark.parametrize("method, path, body, verb", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_the_read_only_master_key_may_only_read(read_only, server, seeded, method, path, body, verb):
    before = log_length(server)
    r = read_only.request(method, path.replace("{cls}", seeded),
                          json=json.loads(json.dumps(body).replace("{cls}", seeded)) if body is not None else None)
    if verb == "GET":
        assert r.status_code == 200
    else:
        assert (r.status_code, r.json()) == (400, {
            "code": 119, "error": f"read-only masterKey isn't allowed to {verb} a schema."})
    assert log_length(server) == before


def test_the_js_sdk_body_form_reaches_the_schema_api(anonymous, server, class_name):
    r = anonymous.post(f"/schemas/{class_name}", content=json.dumps({
        "_method": "POST", "_ApplicationId": server.app_id, "_MasterKey": server.master_key,
        "fields": {"a": S}}), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    r = anonymous.post(f"/schemas/{class_name}", content=json.dumps({
        "_method": "GET", "_ApplicationId": server.app_id, "_MasterKey": server.master_key}),
        headers={"Content-Type": "text/plain"})
    assert r.json()["fields"]["a"] == S


# -- the indexes serve the queries the compiler writes ---------------------------------------------


@pytest.mark.parametrize("where, index", [
    ({"code": "c7"}, "p_Lookup_i_byCode"),
    ({"code": {"$in": ["c7", "c8"]}}, "p_Lookup_i_byCode"),
    ({"title": {"$text": {"$search": {"$term": "seven"}}}}, "p_Lookup_i_words"),
], ids=["equality", "in", "text"])
async def test_declared_indexes_serve_compiled_queries(runtime, where, index):
    await runtime.write([SchemaChange("Lookup", CREATE_CLASS, {"code": S, "title": S}, None,
                                      {"byCode": {"code": 1}, "words": {"title": "text"}})], MASTER)
    await runtime.write([Create("Lookup", {"code": Op("Set", f"c{i}"), "title": Op("Set", f"item {i}")})
                         for i in range(50)], MASTER)
    assert "code" in await runtime.btree_fields("Lookup")
    opts = find_options(runtime, {"where": json.dumps(where), "explain": "true"}, "Lookup", True,
                        await runtime.btree_fields("Lookup"))

    async def explain(conn):
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            [plan], _ = await reader.find(conn, "Lookup", opts)
            return plan

    assert index in await runtime.read(explain)


def test_server_info_offers_the_schema_features(master):
    assert master.get("/serverInfo").json()["features"]["schemas"] == {
        "addField": True, "removeField": True, "addClass": True, "removeClass": True, "clearAllDataFromClass": True,
        "exportClass": False, "editClassLevelPermissions": True, "editPointerPermissions": True}
