"""A find's options, read as Parse reads them: `where`, `order`, `limit`, `skip`, `count`,
`keys`, `excludeKeys`, `include`, `explain` (strings from a query string, or the SDKs' JSON),
with what the caller may see (`core/security/guard.py`), into `core/reads.py: FindOptions`."""

from __future__ import annotations

from typing import Any

from parsnip.core import json_input
from parsnip.core.errors import ParseError
from parsnip.core.history.moment import parse_moment
from parsnip.core.layout import files_base
from parsnip.core.query.ast import check_key, check_relative_times, parse_where
from parsnip.core.query.relations import relation_constraints
from parsnip.core.reads import FindOptions
from parsnip.core.schema import check_class_name, check_field_name
from parsnip.core.security import guard
from parsnip.core.security.auth import Auth

# The query options Parse accepts; any other parameter is refused (102), as Parse does.
QUERY_OPTIONS = frozenset({
    "where", "limit", "skip", "order", "count", "keys", "excludeKeys", "include", "includeAll",
    "redirectClassNameForKey", "readPreference", "includeReadPreference", "subqueryReadPreference",
    "hint", "explain", "comment", "asOf",
})


def valid_class(class_name: str) -> bool:
    """Whether `class_name` can name a class at all."""
    try:
        check_class_name(class_name)
        return True
    except ParseError:
        return False


def check_query_options(params: dict[str, Any]) -> None:
    """Any parameter Parse does not know is refused (102)."""
    for key in params:
        if key not in QUERY_OPTIONS:
            raise ParseError(ParseError.INVALID_QUERY, f"Invalid parameter for query: {key}")


def _file_options(rt, class_name: str) -> dict[str, Any]:
    files = [f for f, t in rt.schema.fields(class_name).items() if t.get("type") == "File"]
    return {"file_fields": files, "files_base": files_base(rt.config, rt.files)}


def redirect(rt, class_name: str, key: Any) -> str | None:
    """redirectClassNameForKey: the target class of relation `key`, where the query really runs."""
    if not key:
        return None
    t = rt.schema.fields(class_name).get(key) if isinstance(key, str) else None
    return t["targetClass"] if t and t.get("type") == "Relation" else None


def access_options(rt, auth: Auth, class_name: str, operation: str) -> dict[str, Any]:
    """What the caller may see, for FindOptions: the class (`operation` checked against its
    CLP), the classes `include` reaches and those subqueries read."""
    return _access(rt, auth, class_name, operation)


def _access(rt, auth, class_name: str, operation: str) -> dict[str, Any]:
    return {
        "access": guard.read_access(rt.schema.clp, auth, class_name, operation),
        "access_of": lambda cls: guard.read_access(rt.schema.clp, auth, cls, "find"),
        "subquery_access": guard.subquery_access(rt.schema.clp, auth),
    }


def find_options(rt, params: dict[str, Any], class_name: str, master: bool = False,
                 btree_fields: frozenset[str] = frozenset(), auth: Auth | None = None) -> FindOptions:
    """Read where/order/limit/skip/keys/count from query parameters (strings or SDK JSON)."""
    where = params.get("where")
    if isinstance(where, str):
        where = json_param(where, "where") if where.strip() else None
    limit = int_param(params.get("limit"), 100, "limit")
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
    types = rt.schema.fields(class_name)
    node = relation_constraints(parse_where(where), class_name, rt.schema.fields)
    check_relative_times(node, types.get)
    limit = max(limit, 0)
    counting = _truthy(count)
    access: dict[str, Any] = {}
    if auth is not None and valid_class(class_name):
        if counting:  # a count is its own permission; a count with results needs find too
            access = _access(rt, auth, class_name, "count")
        if limit > 0 or not counting:
            access = _access(rt, auth, class_name, "get" if _is_get(where) else "find")
        guard.check_query(access["access"], node, order)
    return FindOptions(
        where=node,
        order=order or None,
        limit=limit,
        skip=max(int_param(params.get("skip"), 0, "skip"), 0),
        count=counting,
        explain=explain,
        scalar_fields=frozenset(f for f, t in types.items() if t.get("type") in ("String", "Number", "Boolean")),
        indexed_scalars=btree_fields,
        **read_options(rt, params, class_name),
        **access,
    )


def _is_get(where: Any) -> bool:
    """A find whose only constraint is one objectId is a get, as Parse checks it against the
    class-level permissions: the JS SDK's `query.get(id)` sends exactly that."""
    return isinstance(where, dict) and len(where) == 1 and isinstance(where.get("objectId"), str)


def read_options(rt, params: dict[str, Any], class_name: str) -> dict[str, Any]:
    """keys, excludeKeys, include / includeAll, File URLs and asOf: what shapes each returned object."""
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
        "as_of": parse_moment(params.get("asOf")),  # time travel: the class as it was then
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


def int_param(value: Any, default: int, name: str) -> int:
    """An integer option (a number or its text), clamped to PostgreSQL's range; 102 otherwise."""
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
