"""Equality, comparisons, $in/$nin, $all, $containedBy and $exists on any key or dotted path.

Each function returns a boolean SQL expression that is never NULL, so `NOT` of it is exact:
$ne and $nin match objects where the key is missing, as Parse documents.
"""

from __future__ import annotations

from typing import Any

from parsnip.core.query.ast import All, Compare, ContainedBy, Exists, In
from parsnip.core.query.sql.base import (
    DATE_COLUMNS, Params, Path, containable, contained_form, element_equals, elements, has_element, is_date,
)
from parsnip.core.schema import check_field_name
from parsnip.core.values import parse_iso

_SQL_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _timestamp(value: Any, params: Params) -> str | None:
    """A Date (or an ISO string) as a timestamptz parameter; None for any other value."""
    if is_date(value):
        return params.add(parse_iso(value.get("iso")), "::timestamptz")
    if isinstance(value, str):
        return params.add(parse_iso(value), "::timestamptz")
    return None


def equals(path: Path, value: Any, params: Params) -> str:
    """Parse equality: the value, or an array holding it; null also matches a missing key."""
    col = path.column
    if col == "object_id":
        return f"(object_id = {params.add(value, '::text')})" if isinstance(value, str) else "FALSE"
    if col in DATE_COLUMNS.values():
        ts = _timestamp(value, params)
        return f"({col} = {ts})" if ts else "FALSE"
    if value is None:
        expr = path.json(params)
        return f"({expr} IS NULL OR {expr} = 'null'::jsonb)"
    if path.containable and containable(value):
        if path.key in params.scalar_fields and isinstance(value, (str, int, float)):
            if path.key in params.indexed_scalars:
                # A btree on (data->'f') exists: the plain form lets the planner use it (and its
                # created_at order). Not with containment too: the planner would multiply their
                # selectivities and misjudge the plan.
                return f"({_indexed(path)} = {params.add(value, '::jsonb')})"
            # Never an array: one containment, half the GIN probes and row tests of both forms.
            return f"(data @> {params.add(path.nest(contained_form(value)), '::jsonb')})"
        return _contains_any(path, [value], params)
    expr = path.json(params)
    return f"(COALESCE({element_equals(expr, value, params)}, FALSE) OR {has_element(expr, value, params)})"


def _indexed(path: Path) -> str:
    """`data->'f'` written out, as the index expression is: a parameter in its place would hide
    the index from generic plans. The name comes from the schema and is checked again here."""
    check_field_name(path.key)
    return f"(data->'{path.key}')"


def _contains_any(path: Path, values, params: Params) -> str:
    """The document holds one of `values` at `path`, itself or in an array: containment on the
    whole of `data`, so the GIN index serves it. `data @> ANY(array)` is the OR of the
    containments `data @> {"f": v}` and `data @> {"f": [v]}`, in one parameter however many
    values, and one bitmap index scan."""
    docs = []
    for v in values:
        docs += [path.nest(contained_form(v)), path.nest([contained_form(v)])]
    return f"(data @> ANY({params.add(docs, '::jsonb[]')}))"


def compare(node: Compare, params: Params) -> str:
    path, op, value = Path(node.field), node.op, node.value
    if op == "eq":
        return equals(path, value, params)
    if op == "ne":
        return f"(NOT {equals(path, value, params)})"
    sql_op = _SQL_OPS[op]
    col = path.column
    if col in DATE_COLUMNS.values():
        ts = _timestamp(value, params)
        return f"({col} {sql_op} {ts})" if ts else "FALSE"
    if col == "object_id":
        if not isinstance(value, str):
            return "FALSE"
        return f"(object_id COLLATE \"C\" {sql_op} {params.add(value, '::text')})"
    expr = path.json(params)
    if is_date(value):
        ts = _timestamp(value, params)
        return (f"(CASE WHEN {expr} ->> '__type' = 'Date' AND jsonb_typeof({expr} -> 'iso') = 'string'"
                f" THEN ({expr} ->> 'iso')::timestamptz {sql_op} {ts} ELSE FALSE END)")
    if isinstance(value, str):
        return (f"COALESCE(jsonb_typeof({expr}) = 'string' AND ({expr} #>> '{{}}') COLLATE \"C\" {sql_op} "
                f"{params.add(value, '::text')}, FALSE)")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"COALESCE(jsonb_typeof({expr}) = 'number' AND {expr} {sql_op} {params.add(value, '::jsonb')}, FALSE)"
    v = params.add(value, "::jsonb")
    return f"COALESCE(jsonb_typeof({expr}) = jsonb_typeof({v}) AND {expr} {sql_op} {v}, FALSE)"


def in_(node: In, params: Params) -> str:
    """$in: equal to one of the values (element-wise on arrays); $nin: to none of them."""
    path, values = Path(node.field), node.values
    if not values:
        matched = "FALSE"
    elif path.column == "object_id":
        ids = [v for v in values if isinstance(v, str)]
        matched = f"(object_id = ANY({params.add(ids, '::text[]')}))"
    elif path.containable and all(containable(v) for v in values):
        if path.key in params.indexed_scalars and all(isinstance(v, (str, int, float)) for v in values):
            matched = f"({_indexed(path)} = ANY({params.add(list(values), '::jsonb[]')}))"
        elif path.key in params.scalar_fields and all(isinstance(v, (str, int, float)) for v in values):
            docs = [path.nest(contained_form(v)) for v in values]
            matched = f"(data @> ANY({params.add(docs, '::jsonb[]')}))"
        else:
            matched = _contains_any(path, values, params)
    else:
        matched = "(" + " OR ".join(equals(path, v, params) for v in values) + ")"
    return f"(NOT {matched})" if node.negate else matched


def all_(node: All, params: Params) -> str:
    """$all: an array holding every value; an empty list matches nothing (as Parse)."""
    path, values = Path(node.field), node.values
    if not values or path.column is not None:
        return "FALSE"
    simple = [contained_form(v) for v in values if containable(v)]
    others = [v for v in values if not containable(v)]
    tests = []
    if simple and path.containable:
        # `{"f": [v, w]}` is contained only by an array holding v and w: the GIN index serves it.
        tests.append(f"(data @> {params.add(path.nest(simple), '::jsonb')})")
    elif simple:
        expr = path.json(params)
        tests.append(f"COALESCE(jsonb_typeof({expr}) = 'array' AND {expr} @> {params.add(simple, '::jsonb')}, FALSE)")
    if others:
        expr = path.json(params)
        tests += [has_element(expr, v, params) for v in others]
    return "(" + " AND ".join(tests) + ")"


def contained_by(node: ContainedBy, params: Params) -> str:
    """$containedBy: an array whose every element is one of the values (so [] matches)."""
    path = Path(node.field)
    if path.column is not None:
        return "FALSE"
    expr = path.json(params)
    if node.values:
        one_of = " OR ".join(f"COALESCE({element_equals('e.v', v, params)}, FALSE)" for v in node.values)
    else:
        one_of = "FALSE"
    return (f"COALESCE(jsonb_typeof({expr}) = 'array'"
            f" AND NOT EXISTS (SELECT 1 FROM {elements(expr)} WHERE NOT ({one_of})), FALSE)")


def exists(node: Exists, params: Params) -> str:
    """$exists: the key is set to something other than null."""
    path = Path(node.field)
    col = path.column
    if col == "acl":
        present = "(acl IS NOT NULL)"
    elif col is not None:
        present = "TRUE"
    else:
        expr = path.json(params)
        present = f"COALESCE({expr} <> 'null'::jsonb, FALSE)"
    return present if node.exists else f"(NOT {present})"
