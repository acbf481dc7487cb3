"""/classes/{className}[/{objectId}]: create, get, update, delete and find objects."""

from __future__ import annotations

import json
from typing import Any

from parsnip.api.routes import Reply, checked
from parsnip.core import json_input
from parsnip.core.commands import Create, Delete, Result, Update, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.query.ast import check_key, check_relative_times, parse_where
from parsnip.core.schema import check_class_name, check_field_name
from parsnip.core.security import guard
from parsnip.core.security.roles import ROLE_CLASS, check_role_write
from parsnip.core.values import iso
from parsnip.projections import reader

# The query options Parse accepts; any other parameter is refused (102), as Parse does.
_QUERY_OPTIONS = frozenset({
    "where", "limit", "skip", "order", "count", "keys", "excludeKeys", "include", "includeAll",
    "redirectClassNameForKey", "readPreference", "includeReadPreference", "subqueryReadPreference",
    "hint", "explain", "comment",
})

# Operators whose result Parse echoes in a save response.
_ECHOED_OPS = frozenset({"Increment", "Add", "AddUnique", "Remove"})


def _check_writable(req) -> None:
    if req.read_only_master:
        raise ParseError(
            ParseError.OPERATION_FORBIDDEN, "read-only masterKey isn't allowed to perform the create operation."
        )


def _valid_class(class_name: str) -> bool:
    try:
        check_class_name(class_name)
        return True
    except ParseError:
        return False


def _body_for_write(class_name: str, body: Any) -> Any:
    """Parse's checks before a write: a valid class name (107), and an array body read as an object
    keyed "0", "1", ... (so it fails on its first key, 105 "Invalid field name: 0.")."""
    if not _valid_class(class_name):
        raise ParseError(ParseError.INVALID_JSON, "schema class name does not revalidate")
    if isinstance(body, list):
        return {str(i): v for i, v in enumerate(body)}
    return body


def op_results(ops, result: Result) -> dict[str, Any]:
    """The fields a save response carries back: the results of Increment/Add/AddUnique/Remove."""
    return {name: result.fields.get(name) for name, op in ops.items() if op.kind in _ECHOED_OPS}


def create_command(rt, class_name: str, body: Any) -> Create:
    body = _body_for_write(class_name, body)
    if class_name == ROLE_CLASS and isinstance(body, dict):
        check_role_write(body, creating=True)
    ops, object_id = build_ops(class_name, body, allow_object_id=rt.config.allowCustomObjectId)
    return Create(class_name, ops, object_id)


def created_body(cmd: Create, result: Result) -> dict[str, Any]:
    return {**op_results(cmd.ops, result), "objectId": result.object_id, "createdAt": iso(result.created_at)}


def update_command(rt, class_name: str, object_id: str, body: Any) -> Update:
    body = _body_for_write(class_name, body)
    if class_name == ROLE_CLASS and isinstance(body, dict):
        check_role_write(body, creating=False)
    ops, new_id = build_ops(class_name, body, allow_object_id=True)
    if new_id is not None and new_id != object_id:
        raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
    return Update(class_name, object_id, ops)


def updated_body(cmd: Update, result: Result) -> dict[str, Any]:
    return {**op_results(cmd.ops, result), "updatedAt": iso(result.updated_at)}


async def create(rt, req, class_name: str) -> Reply:
    _check_writable(req)
    cmd = await checked(req, create_command, rt, class_name, req.body)
    [result] = await rt.write([cmd], req.context, req.auth)
    location = f"{rt.config.serverURL}/classes/{class_name}/{result.object_id}"
    return Reply(created_body(cmd, result), status=201, headers={"Location": location})


async def update(rt, req, class_name: str, object_id: str) -> Reply:
    _check_writable(req)
    cmd = await checked(req, update_command, rt, class_name, object_id, req.body)
    [result] = await rt.write([cmd], req.context, req.auth)
    return Reply(updated_body(cmd, result))


async def delete(rt, req, class_name: str, object_id: str) -> Reply:
    _check_writable(req)
    if not _valid_class(class_name):  # Parse: an invalid class name has no objects
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found for delete.")
    await rt.write([Delete(class_name, object_id)], req.context, req.auth)
    return Reply({})


async def get(rt, req, class_name: str, object_id: str) -> Reply:
    text = None
    valid = _valid_class(class_name)
    opts = reader.FindOptions(**read_options(rt, req.params, class_name),
                              **(access_options(rt, req, class_name, "get") if valid else {}))
    if valid and await rt.has_class(class_name):
        text = await rt.get(class_name, object_id, opts, req.auth, req.context)
    if text is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    return Reply(raw=text)


async def find(rt, req, class_name: str) -> Reply:
    for key in req.params:
        if key not in _QUERY_OPTIONS:
            raise ParseError(ParseError.INVALID_QUERY, f"Invalid parameter for query: {key}")
    redirected = _redirect(rt, class_name, req.params.get("redirectClassNameForKey"))
    if redirected:
        class_name = redirected
    exists = _valid_class(class_name) and await rt.has_class(class_name)
    opts = find_options(rt, req.params, class_name, req.master,
                        await rt.btree_fields(class_name) if exists else frozenset(), req.auth)
    if not exists:
        body: dict[str, Any] = {"results": []}
        if opts.count:
            body["count"] = 0
        return Reply(body)
    results, total = await rt.find(class_name, opts, req.auth, req.context)
    if opts.explain:  # the plan PostgreSQL chose, as Parse Server on Postgres answers
        return Reply(raw='{"results":' + results[0] + "}")
    if redirected:  # Parse names the class each result really belongs to
        results = [r[:-1] + f',"className":{json.dumps(redirected)}}}' for r in results]
    raw = '{"results":[' + ",".join(results) + "]"
    if total is not None:
        raw += f',"count":{total}'
    return Reply(raw=raw + "}")


def _file_options(rt, class_name: str) -> dict[str, Any]:
    files = [f for f, t in rt.schema.fields(class_name).items() if t.get("type") == "File"]
    return {"file_fields": files, "files_base": f"{rt.config.publicServerURL or rt.config.serverURL}/files/{rt.config.appId}/"}


def _redirect(rt, class_name: str, key: Any) -> str | None:
    """redirectClassNameForKey: the target class of relation `key`, where the query really runs."""
    if not key:
        return None
    t = rt.schema.fields(class_name).get(key) if isinstance(key, str) else None
    return t["targetClass"] if t and t.get("type") == "Relation" else None


def access_options(rt, req, class_name: str, operation: str) -> dict[str, Any]:
    """What the caller may see, for FindOptions: the class (`operation` checked against its
    CLP), the classes `include` reaches and those subqueries read."""
    return _access(rt, req.auth, class_name, operation)


def _access(rt, auth, class_name: str, operation: str) -> dict[str, Any]:
    return {
        "access": guard.read_access(rt.schema.clp, auth, class_name, operation),
        "access_of": lambda cls: guard.read_access(rt.schema.clp, auth, cls, "find"),
        "subquery_access": guard.subquery_access(rt.schema.clp, auth),
    }


def find_options(rt, params: dict[str, Any], class_name: str, master: bool = False,
                 btree_fields: frozenset[str] = frozenset(), auth=None) -> reader.FindOptions:
    """Read where/order/limit/skip/keys/count from query parameters (strings or SDK JSON)."""
    where = params.get("where")
    if isinstance(where, str):
        where = json_param(where, "where") if where.strip() else None
    limit = _int(params.get("limit"), 100, "limit")
    if rt.config.maxLimit is not None:
        limit = min(limit, rt.config.maxLimit)
    order = params.get("order")
    if order is not None and not isinstance(order, str):
        raise ParseError(ParseError.INVALID_QUERY, "order must be a string")
    if order:
        for key in order.split(","):
            key = key.strip().lstrip("-")
            if key and key not in ("objectId", "createdAt", "updatedAt", "$score"):
                check_key(key) if "." in key else check_field_name(key)
    count = params.get("count")
    explain = _truthy(params.get("explain"))
    if explain and not master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Cannot explain a query without the master key")
    node = parse_where(where)
    types = rt.schema.fields(class_name)
    check_relative_times(node, types.get)
    limit = max(limit, 0)
    counting = _truthy(count)
    access: dict[str, Any] = {}
    if auth is not None and _valid_class(class_name):
        if counting:  # a count is its own permission; a count with results needs find too
            access = _access(rt, auth, class_name, "count")
        if limit > 0 or not counting:
            access = _access(rt, auth, class_name, "find")
        guard.check_query(access["access"], node, order)
    return reader.FindOptions(
        where=node,
        order=order or None,
        limit=limit,
        skip=max(_int(params.get("skip"), 0, "skip"), 0),
        count=counting,
        explain=explain,
        scalar_fields=frozenset(f for f, t in types.items() if t.get("type") in ("String", "Number", "Boolean"))
        & btree_fields,
        **read_options(rt, params, class_name),
        **access,
    )


def read_options(rt, params: dict[str, Any], class_name: str) -> dict[str, Any]:
    """keys, excludeKeys, include / includeAll and File URLs: what shapes each returned object."""
    keys = _keys(params.get("keys"))
    text_score = keys is not None and "$score" in keys
    if text_score:
        keys = [k for k in keys if k != "$score"]
    include = _keys(params.get("include")) or []
    if _truthy(params.get("includeAll")):
        include.append("*")
    # Parse includes the pointer behind a dotted key: keys=post.title fetches the post.
    include += [k.rsplit(".", 1)[0] for k in keys or () if "." in k]
    for path in [*(keys or ()), *include, *(_keys(params.get("excludeKeys")) or ())]:
        if path != "*":
            check_key(path)
    file_fields_of = {
        cls: [f for f, t in rt.schema.fields(cls).items() if t.get("type") == "File"]
        for cls in rt.schema.class_names()
    }
    return {
        "keys": keys,
        "text_score": text_score,
        "exclude_keys": _keys(params.get("excludeKeys")) or [],
        "include": sorted(set(include)),
        "file_fields_of": file_fields_of,
        **_file_options(rt, class_name),
    }


def json_param(value: str, name: str) -> Any:
    """A JSON query parameter, read as a body is (core/json_input.py); 107 when it is not JSON."""
    try:
        return json_input.loads(value)
    except ParseError as e:
        raise ParseError(ParseError.INVALID_JSON, f"{name} must be valid JSON: {e.message}") from None


def _truthy(value: Any) -> bool:
    """Parse reads a query string value as JSON when it can, then tests it as JavaScript would."""
    if isinstance(value, str):
        try:
            value = json_input.loads(value)
        except ParseError:
            pass
    return bool(value) or value == [] or value == {}


# PostgreSQL's LIMIT and OFFSET are 64-bit: a larger limit means "all", a larger skip "none".
_INT64_MAX = 2**63 - 1


def _int(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ParseError(ParseError.INVALID_QUERY, f"{name} must be a number")
    try:
        return max(min(int(value), _INT64_MAX), -1)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        raise ParseError(ParseError.INVALID_QUERY, f"{name} must be a number") from None


def _keys(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        names = value
    elif isinstance(value, str):
        names = value.split(",")
    else:
        raise ParseError(ParseError.INVALID_QUERY, "keys must be a string")
    return [str(k).strip() for k in names if str(k).strip()]
