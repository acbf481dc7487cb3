"""GET /aggregate: a MongoDB-style pipeline compiled to one SQL statement over a projection.

Each stage becomes a subquery producing rows of (doc jsonb, ord bigint): `doc` is the object as
the REST API shows it, `ord` keeps the order of the previous stage ($sort sets it, $first and
$last read it). $match reuses the `where` compiler on a view of `doc` laid out like a projection
table, so a pipeline filters exactly as a query does. Every value is a bind parameter; field
names are validated before they reach the SQL text.

Parse Server on PostgreSQL answers many pipelines wrongly or not at all (it ignores $count and
$unwind, refuses $sort on _id); this follows the documented MongoDB semantics, with `_id`
shown as `objectId` as Parse does.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.layout import DOCUMENT, table
from parsnip.core.query.ast import parse_where
from parsnip.core.query.sql import Params, compile_where
from parsnip.core.security.guard import INTERNAL_USER_FIELDS, USER_CLASS
from parsnip.projections.reader import query_refusals

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
# A stage's rows seen as a projection table, for $match.
_AS_TABLE = (
    "SELECT doc, ord, doc->>'objectId' AS object_id, (doc->>'createdAt')::timestamptz AS created_at,"
    " (doc->>'updatedAt')::timestamptz AS updated_at, doc->'ACL' AS acl,"
    " doc - ARRAY['objectId', 'createdAt', 'updatedAt', 'ACL'] AS data FROM ({prev}) AS m"
)


def _bad(message: str) -> ParseError:
    return ParseError(ParseError.INVALID_QUERY, message)


def _name(name: Any) -> str:
    """A field name as Parse shows it: `_id` is `objectId`."""
    if not isinstance(name, str) or not _PATH.fullmatch(name):
        raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid field name: {name}")
    return "objectId" if name == "_id" else name


def _ref(expr: Any, params: Params) -> str:
    """An expression: "$field.path" reads the document; anything else is a literal."""
    if isinstance(expr, str) and expr.startswith("$"):
        path = _name(expr[1:]).split(".")
        return f"(doc #> {params.add(path, '::text[]')})"
    if isinstance(expr, dict) and expr and all(not str(k).startswith("$") for k in expr):
        parts = ", ".join(f"{params.add(_name(k), '::text')}, {_ref(v, params)}" for k, v in expr.items())
        return f"jsonb_build_object({parts})"
    if isinstance(expr, dict):
        raise _bad(f"unsupported aggregate expression: {list(expr)[0]}")
    return f"{params.add(expr, '::jsonb')}"


def _number(x: str) -> str:
    return f"CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::text::numeric END"


def _present(x: str) -> str:
    return f"({x} IS NOT NULL AND {x} <> 'null'::jsonb)"


def _accumulator(spec: Any, params: Params) -> str:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise _bad("a $group field needs exactly one accumulator")
    [(op, arg)] = spec.items()
    if op == "$sum" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return f"to_jsonb(count(*) * {params.add(arg, '::numeric')})"
    x = _ref(arg, params)
    if op == "$sum":
        return f"to_jsonb(COALESCE(sum({_number(x)}), 0))"
    if op == "$avg":
        return f"to_jsonb(avg({_number(x)})::float8)"
    if op in ("$min", "$max"):
        direction = "ASC" if op == "$min" else "DESC"
        return f"(array_agg({x} ORDER BY {x} {direction}) FILTER (WHERE {_present(x)}))[1]"
    if op == "$push":
        return f"COALESCE(jsonb_agg({x} ORDER BY ord) FILTER (WHERE {x} IS NOT NULL), '[]'::jsonb)"
    if op == "$addToSet":
        return f"COALESCE(jsonb_agg(DISTINCT {x}) FILTER (WHERE {x} IS NOT NULL), '[]'::jsonb)"
    if op == "$first":
        return f"(array_agg({x} ORDER BY ord ASC))[1]"
    if op == "$last":
        return f"(array_agg({x} ORDER BY ord DESC))[1]"
    raise _bad(f"unsupported $group accumulator: {op}")


def _group(spec: Any, prev: str, params: Params) -> str:
    if not isinstance(spec, dict) or not ({"_id", "objectId"} & set(spec)):
        raise _bad("$group needs an _id")
    key_name = "_id" if "_id" in spec else "objectId"
    key = _ref(spec[key_name], params) if spec[key_name] is not None else "'null'::jsonb"
    fields = [f"'objectId', {key}"]
    for name, acc in spec.items():
        if name != key_name:
            fields.append(f"{params.add(_name(name), '::text')}, {_accumulator(acc, params)}")
    doc = "jsonb_build_object(" + ", ".join(fields) + ")"
    return f"SELECT {doc} AS doc, row_number() OVER (ORDER BY {key}) AS ord FROM ({prev}) AS g GROUP BY {key}"


def _project(spec: Any, prev: str, params: Params) -> str:
    if not isinstance(spec, dict) or not spec:
        raise _bad("$project needs fields")
    names = {_name(k): v for k, v in spec.items()}
    excluded = [k for k, v in names.items() if v in (0, False)]
    computed = {k: v for k, v in names.items() if v not in (0, 1, True, False)}
    included = [k for k, v in names.items() if v in (1, True)]
    if excluded and (included or computed) and excluded != ["objectId"]:
        raise _bad("$project cannot mix inclusion and exclusion")
    if included or computed:
        keep = [*included, *([] if "objectId" in excluded else ["objectId"])]
        doc = (f"COALESCE((SELECT jsonb_object_agg(k, v) FROM jsonb_each(doc) AS e(k, v)"
               f" WHERE k = ANY({params.add(keep, '::text[]')})), '{{}}'::jsonb)")
        for k, v in computed.items():
            doc += f" || jsonb_build_object({params.add(k, '::text')}, {_ref(v, params)})"
    else:
        doc = f"(doc - {params.add(excluded, '::text[]')})"
    return f"SELECT {doc} AS doc, ord FROM ({prev}) AS p"


def _sort(spec: Any, prev: str, params: Params) -> str:
    if not isinstance(spec, dict) or not spec:
        raise _bad("$sort needs fields")
    keys = []
    for name, direction in spec.items():
        if direction not in (1, -1):
            raise _bad("$sort directions are 1 or -1")
        # Missing and null sort lowest, as in MongoDB.
        order = "ASC NULLS FIRST" if direction == 1 else "DESC NULLS LAST"
        keys.append(f"(doc #> {params.add(_name(name).split('.'), '::text[]')}) {order}")
    return f"SELECT doc, row_number() OVER (ORDER BY {', '.join(keys)}, ord) AS ord FROM ({prev}) AS s"


def _count_of(value: Any, what: str) -> int:
    """A $limit or $skip: PostgreSQL's are 64-bit (Parse answers 102 past that too)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _bad(f"{what} must be a non-negative integer below 2^63")
    return value


def _unwind(spec: Any, prev: str, params: Params) -> str:
    path = spec.get("path") if isinstance(spec, dict) else spec
    if not (isinstance(path, str) and path.startswith("$")):
        raise _bad("$unwind needs a field path such as \"$tags\"")
    name = _name(path[1:])
    if "." in name:
        raise _bad("$unwind of a nested path is not supported")
    p = params.add(name, "::text")
    return (
        f"SELECT u.doc || jsonb_build_object({p}, e.value) AS doc,"
        f" row_number() OVER (ORDER BY u.ord, e.n) AS ord"
        f" FROM ({prev}) AS u, jsonb_array_elements(CASE WHEN jsonb_typeof(u.doc->{p}) = 'array'"
        f" THEN u.doc->{p} ELSE '[]'::jsonb END) WITH ORDINALITY AS e(value, n)"
    )


def _match(spec: Any, prev: str, params: Params) -> str:
    cond = compile_where(parse_where(spec), params)
    return f"SELECT doc, ord FROM ({_AS_TABLE.format(prev=prev)}) AS w WHERE {cond}"


def _stages() -> dict[str, Callable[[Any, str, Params], str]]:
    return {
        "$match": _match,
        "$group": _group,
        "$project": _project,
        "$sort": _sort,
        "$limit": lambda v, prev, _: f"SELECT doc, ord FROM ({prev}) AS l ORDER BY ord LIMIT {_count_of(v, '$limit')}",
        "$skip": lambda v, prev, _: f"SELECT doc, ord FROM ({prev}) AS k ORDER BY ord OFFSET {_count_of(v, '$skip')}",
        "$count": lambda v, prev, params: (
            f"SELECT jsonb_build_object({params.add(_name(v), '::text')}, count(*)) AS doc, 1 AS ord FROM ({prev}) AS c"
        ),
        "$unwind": _unwind,
    }


def _source(class_name: str) -> str:
    """The class's rows; a _User's server-internal fields (its password hash, ...) are never
    visible to a pipeline, even the master key's."""
    if class_name != USER_CLASS:
        return table(class_name)
    internal = ", ".join(f"'{f}'" for f in INTERNAL_USER_FIELDS)
    return (f"(SELECT object_id, version, created_at, updated_at, acl, data - ARRAY[{internal}] AS data"
            f" FROM {table(class_name)}) AS src")


def compile_pipeline(class_name: str, pipeline: Any) -> tuple[str, list]:
    """The SQL text and parameters of a pipeline; 102 for an unknown or malformed stage."""
    if isinstance(pipeline, dict):
        pipeline = [pipeline]
    if not isinstance(pipeline, list):
        raise _bad("pipeline must be an array of stages")
    params = Params()
    sql = f"SELECT {DOCUMENT} AS doc, row_number() OVER (ORDER BY created_at, object_id) AS ord FROM {_source(class_name)}"
    stages = _stages()
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            raise _bad("each pipeline stage must be an object with one key")
        [(name, spec)] = stage.items()
        if name not in stages:
            raise _bad(f"Invalid aggregate stage '{name}'.")
        sql = stages[name](spec, sql, params)
    return f"SELECT doc::text FROM ({sql}) AS out ORDER BY ord", params.values


async def aggregate(conn: asyncpg.Connection, class_name: str, pipeline: Any) -> list[str]:
    sql, values = compile_pipeline(class_name, pipeline)
    try:
        with query_refusals():
            return [r[0] for r in await conn.fetch(sql, *values)]
    except asyncpg.exceptions.UndefinedTableError:
        return []


async def distinct(conn: asyncpg.Connection, class_name: str, field: str, where: Any) -> list[str]:
    """The distinct values of a field (array fields: of their elements), as JSON texts."""
    params = Params()
    cond = compile_where(parse_where(where), params)
    path = params.add(_name(field).split("."), "::text[]")
    value = f"(data #> {path})"
    if field in ("objectId", "createdAt", "updatedAt"):
        value = f"({DOCUMENT} #> {path})"
    sql = (
        f"SELECT DISTINCT v::text FROM (SELECT CASE WHEN jsonb_typeof({value}) = 'array'"
        f" THEN e.value ELSE {value} END AS v FROM {_source(class_name)}"
        f" LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof({value}) = 'array'"
        f" THEN {value} END) AS e(value) ON TRUE WHERE {cond}) AS d WHERE v IS NOT NULL AND v <> 'null'::jsonb"
        " ORDER BY 1"
    )
    try:
        with query_refusals():
            return [r[0] for r in await conn.fetch(sql, *params.values)]
    except asyncpg.exceptions.UndefinedTableError:
        return []
