"""Reads for the REST API: objects come out of PostgreSQL as finished JSON text.

PostgreSQL builds each object's Parse JSON (objectId, createdAt, updatedAt, ACL and the data
fields) so the read path decodes and re-encodes nothing in Python: the API joins the texts into
its response. These functions run on the gateway's loop (`gateway.call(find, ...)`).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator, Sequence

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.layout import as_of_table, object_json, table
from parsnip.core.query.sql import (
    Params, compile_near_order, compile_order, compile_text_score, compile_where, existing_tables,
)
from parsnip.core.schema import ClassSchema, schema_from_rows
from parsnip.core.reads import FindOptions
from parsnip.projections import include
from parsnip.projections.store import Projector

def _top(paths: Sequence[str]) -> list[str]:
    return sorted({p.split(".", 1)[0] for p in paths})


def select_sql(opts: "FindOptions", params: Params, score: str | None = None) -> str:
    """The SQL of each row's Parse JSON text as the read's options and the caller shape it."""
    keys = None
    if opts.keys is not None:
        # A dotted key selects its top-level field; an included pointer needs its field too.
        keys = _top([*opts.keys, *opts.include])
    keys_param = params.add(keys, "::text[]") if keys is not None else None
    top_excludes = [k for k in opts.exclude_keys if "." not in k]
    exclude_param = params.add(top_excludes, "::text[]") if top_excludes else None
    files = [f for f in opts.file_fields if (keys is None or f in keys) and f not in top_excludes]
    base_param = params.add(opts.files_base, "::text") if files else None
    hidden = opts.access.hidden(params.add) if opts.access is not None else None
    return object_json(keys_param, files, base_param, exclude_param, score, hidden)


@contextmanager
def query_refusals() -> Iterator[None]:
    """What PostgreSQL refuses in a query a client wrote (a regular expression it cannot
    compile, a value out of its range, a query too deeply nested for its stack) is that
    client's bad query (102), never an internal error."""
    try:
        yield
    except (asyncpg.exceptions.DataError, asyncpg.exceptions.ProgramLimitExceededError) as e:
        raise ParseError(ParseError.INVALID_QUERY, f"bad query: {e}") from None


def readable_sql(opts: "FindOptions", params: Params) -> str:
    """The rows the caller may read (ACL, pointer permissions), as a SQL condition."""
    return opts.access.condition(params.add) if opts.access is not None else "TRUE"


def source(class_name: str, opts: "FindOptions", params: Params) -> str:
    """Where a read finds the class's objects: the live table, or with `asOf` the history table
    as of that moment (the same columns, so the same SQL evaluates on it)."""
    if opts.as_of is None:
        return table(class_name)
    return as_of_table(class_name, opts.as_of.position_sql(params.add))


async def _finish(conn: asyncpg.Connection, texts: list[str], opts: FindOptions) -> list[str]:
    """Include pointed-to objects and apply dotted keys / excludeKeys to them."""
    if not texts or not opts.needs_objects:
        return texts
    objects = include.decode(texts)

    async def fetch(class_name: str, ids: list[str]) -> dict[str, dict]:
        access = opts.access_of(class_name) if opts.access_of is not None else None
        # Included objects are read as of the same moment as the objects that point at them.
        target = FindOptions(file_fields=opts.file_fields_of.get(class_name, ()), files_base=opts.files_base,
                             access=access, as_of=opts.as_of)
        params = Params()
        ids_param = params.add(ids, "::text[]")
        select = select_sql(target, params)
        try:
            rows = await conn.fetch(
                f"SELECT {select} FROM {source(class_name, target, params)} WHERE object_id = ANY({ids_param})"
                f" AND {readable_sql(target, params)}", *params.values
            )
        except asyncpg.exceptions.UndefinedTableError:
            return {}
        found = include.decode([r[0] for r in rows])
        return {o["objectId"]: o for o in found}

    await include.resolve(objects, include.include_tree(opts.include), fetch)
    include.project(objects, opts.keys, opts.exclude_keys)
    return include.encode(objects)


async def get(conn: asyncpg.Connection, class_name: str, object_id: str, opts: FindOptions) -> str | None:
    """One object's JSON text, or None when there is no such object."""
    with query_refusals():
        return await _get(conn, class_name, object_id, opts)


async def _get(conn: asyncpg.Connection, class_name: str, object_id: str, opts: FindOptions) -> str | None:
    params = Params()
    oid = params.add(object_id, "::text")
    select = select_sql(opts, params)
    try:
        text = await conn.fetchval(
            f"SELECT {select} FROM {source(class_name, opts, params)} WHERE object_id = {oid}"
            f" AND {readable_sql(opts, params)}",
            *params.values,
        )
    except asyncpg.exceptions.UndefinedTableError:
        return None
    if text is None:
        return None
    return (await _finish(conn, [text], opts))[0]


async def find(conn: asyncpg.Connection, class_name: str, opts: FindOptions) -> tuple[list[str], int | None]:
    """The matching objects' JSON texts and, when asked, the total count."""
    with query_refusals():
        return await _find(conn, class_name, opts)


async def _find(conn: asyncpg.Connection, class_name: str, opts: FindOptions) -> tuple[list[str], int | None]:
    params = Params(scalar_fields=opts.scalar_fields, subquery_access=opts.subquery_access,
                    indexed_scalars=opts.indexed_scalars)
    tables = await existing_tables(conn, opts.where)
    cond = f"{readable_sql(opts, params)} AND {compile_where(opts.where, params, tables)}"
    score = compile_text_score(opts.where, params) if opts.text_score or "$score" in (opts.order or "") else None
    select = select_sql(opts, params, score if opts.text_score else None)
    tbl = source(class_name, opts, params)
    results: list[str] = []
    total = None
    try:
        if opts.limit > 0:
            sql = f"SELECT {select} FROM {tbl} WHERE {cond}"
            # An explicit order wins; a $nearSphere query otherwise comes nearest first.
            order = compile_order(opts.order, params, score) if opts.order else compile_near_order(opts.where, params)
            if order:
                sql += f" ORDER BY {order}"
            sql += f" LIMIT {int(opts.limit)} OFFSET {int(opts.skip)}"
            if opts.explain:
                plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params.values)
                return [plan if isinstance(plan, str) else json.dumps(plan)], None
            results = await _finish(conn, [r[0] for r in await conn.fetch(sql, *params.values)], opts)
        if opts.count:
            count_params = Params(scalar_fields=opts.scalar_fields, subquery_access=opts.subquery_access,
                                  indexed_scalars=opts.indexed_scalars)
            count_cond = f"{readable_sql(opts, count_params)} AND {compile_where(opts.where, count_params, tables)}"
            total = await conn.fetchval(f"SELECT count(*) FROM {source(class_name, opts, count_params)}"
                                        f" WHERE {count_cond}", *count_params.values)
    except asyncpg.exceptions.UndefinedTableError:
        return [], (0 if opts.count else None)
    return results, total


async def classes(conn: asyncpg.Connection, class_name: str | None = None) -> dict[str, ClassSchema]:
    """The stored schema of one class or of all, as this node's projection holds it now."""
    return schema_from_rows(await Projector().load_schema(conn, class_name))
