"""Compile a query AST into a SQL condition over a projection table, every value a parameter.

The table layout this targets (owned by `projections/`): `object_id text`, `created_at` and
`updated_at timestamptz`, `acl jsonb`, and `data jsonb` holding every other field in Parse's
REST encoding. Field names only ever appear as bind parameters or after validation, so no user
text is spliced into SQL.
"""

from __future__ import annotations

from typing import Any

from core.errors import ParseError
from core.query.ast import And, Compare, Exists, In, Node, Or
from core.schema import check_field_name
from core.values import parse_iso

_SQL_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_DATE_COLUMNS = {"createdAt": "created_at", "updatedAt": "updated_at"}


class Params:
    """Collects bind parameters and hands out their `$n` placeholders."""

    def __init__(self, start: int = 1) -> None:
        self.values: list[Any] = []
        self._start = start

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values) + self._start - 1}{cast}"


def compile_where(node: Node, params: Params) -> str:
    """A boolean SQL expression for `node` ("TRUE" for an empty query)."""
    if isinstance(node, And):
        if not node.items:
            return "TRUE"
        return "(" + " AND ".join(compile_where(n, params) for n in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(compile_where(n, params) for n in node.items) + ")"
    if isinstance(node, Exists):
        return _exists(node, params)
    if isinstance(node, In):
        return _in(node, params)
    if isinstance(node, Compare):
        return _compare(node, params)
    raise ParseError(ParseError.INVALID_QUERY, f"query operator not supported yet: {type(node).__name__}")


def _field(field: str, params: Params) -> str:
    return f"(data->{params.add(field, '::text')})"


def _is_date(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type") == "Date"


def _date_param(value: Any, params: Params) -> str:
    iso = value["iso"] if _is_date(value) else value
    return params.add(parse_iso(iso), "::timestamptz")


def _exists(node: Exists, params: Params) -> str:
    if node.field in ("objectId", *_DATE_COLUMNS):
        return "TRUE" if node.exists else "FALSE"
    if node.field == "ACL":
        return "(acl IS NOT NULL)" if node.exists else "(acl IS NULL)"
    col = _field(node.field, params)
    present = f"({col} IS NOT NULL AND {col} <> 'null'::jsonb)"
    return present if node.exists else f"(NOT {present})"


def _equals(field: str, value: Any, params: Params) -> str:
    """Parse equality: an array field equals a value when it contains it; null matches missing."""
    if field == "objectId":
        return f"(object_id = {params.add(value, '::text')})"
    if field in _DATE_COLUMNS:
        return f"({_DATE_COLUMNS[field]} = {_date_param(value, params)})"
    if value is None:
        col = _field(field, params)
        return f"({col} IS NULL OR {col} = 'null'::jsonb)"
    if isinstance(value, dict) and "__type" not in value:
        return f"({_field(field, params)} = {params.add(value, '::jsonb')})"
    # Containment on the whole document, so the GIN index on `data` serves it: the field
    # equals the value, or the field is an array that contains it.
    return (
        f"(data @> {params.add({field: value}, '::jsonb')}"
        f" OR data @> {params.add({field: [value]}, '::jsonb')})"
    )


def _compare(node: Compare, params: Params) -> str:
    field, op, value = node.field, node.op, node.value
    if op == "eq":
        return _equals(field, value, params)
    if op == "ne":
        return f"(NOT {_equals(field, value, params)})"
    sql_op = _SQL_OPS[op]
    if field in _DATE_COLUMNS:
        return f"({_DATE_COLUMNS[field]} {sql_op} {_date_param(value, params)})"
    if field == "objectId":
        return f"(object_id COLLATE \"C\" {sql_op} {params.add(str(value), '::text')})"
    col = _field(field, params)
    if _is_date(value):
        return (
            f"(jsonb_typeof({col}) = 'object' AND ({col}->>'iso')::timestamptz {sql_op} "
            f"{_date_param(value, params)})"
        )
    if isinstance(value, str):
        return (
            f"(jsonb_typeof({col}) = 'string' AND ({col} #>> '{{}}') COLLATE \"C\" {sql_op} "
            f"{params.add(value, '::text')})"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"(jsonb_typeof({col}) = 'number' AND {col} {sql_op} {params.add(value, '::jsonb')})"
    return f"COALESCE({col} {sql_op} {params.add(value, '::jsonb')}, FALSE)"


def _in(node: In, params: Params) -> str:
    if not node.values:
        return "TRUE" if node.negate else "FALSE"
    matched = "(" + " OR ".join(_equals(node.field, v, params) for v in node.values) + ")"
    return f"(NOT {matched})" if node.negate else matched


def compile_order(order: str) -> str:
    """`score,-createdAt` into an ORDER BY list; field names must already be validated."""
    parts = []
    for raw in order.split(","):
        key = raw.strip()
        if not key:
            continue
        desc = key.startswith("-")
        name = key[1:] if desc else key
        if name in _DATE_COLUMNS:
            expr = _DATE_COLUMNS[name]
        elif name == "objectId":
            expr = "object_id"
        else:
            check_field_name(name)  # validated, so it is safe to place in the SQL text
            expr = f"data->'{name}'"
        parts.append(f"{expr} {'DESC' if desc else 'ASC'}")
    return ", ".join(parts)
