"""Reads for the REST API: objects come out of PostgreSQL as finished JSON text.

PostgreSQL builds each object's Parse JSON (objectId, createdAt, updatedAt, ACL and the data
fields) so the read path decodes and re-encodes nothing in Python: the API joins the texts into
its response. These functions run on the gateway's loop (`gateway.call(find, ...)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import asyncpg

from core.query.ast import And, Node
from core.query.sql import Params, compile_order, compile_where
from core.schema import check_field_name
from projections.store import table

_ISO = """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"""
_BASE = (
    "jsonb_build_object('objectId', object_id,"
    f" 'createdAt', to_char(created_at AT TIME ZONE 'UTC', {_ISO}),"
    f" 'updatedAt', to_char(updated_at AT TIME ZONE 'UTC', {_ISO}))"
)
_ACL = "CASE WHEN acl IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('ACL', acl) END"


def _files(file_fields: Sequence[str], base_param: str | None) -> str:
    """File fields get their URL from the server's files endpoint, as Parse Server gives it."""
    out = ""
    for name in file_fields:
        check_field_name(name)  # validated, so it is safe in the SQL text
        col = f"data->'{name}'"
        out += (
            f" || CASE WHEN jsonb_typeof({col}) = 'object' THEN jsonb_build_object('{name}',"
            f" {col} || jsonb_build_object('url', {base_param} || ({col}->>'name'))) ELSE '{{}}'::jsonb END"
        )
    return out


def _object_json(keys_param: str | None, file_fields: Sequence[str] = (), base_param: str | None = None) -> str:
    fields = "data"
    if keys_param is not None:
        fields = f"COALESCE((SELECT jsonb_object_agg(k, v) FROM jsonb_each(data) AS e(k, v) WHERE k = ANY({keys_param})), '{{}}'::jsonb)"
    files = _files(file_fields, base_param) if file_fields else ""
    return f"({_BASE} || {fields}{files} || {_ACL})::text"


def _select(opts: "FindOptions", params: Params) -> str:
    keys_param = params.add(list(opts.keys), "::text[]") if opts.keys is not None else None
    files = [f for f in opts.file_fields if opts.keys is None or f in opts.keys]
    base_param = params.add(opts.files_base, "::text") if files else None
    return _object_json(keys_param, files, base_param)


@dataclass(frozen=True, slots=True)
class FindOptions:
    where: Node = And(())
    order: str | None = None
    limit: int = 100
    skip: int = 0
    keys: Sequence[str] | None = None
    count: bool = False
    file_fields: Sequence[str] = ()  # File fields of the class, whose URLs are made on read
    files_base: str = ""  # e.g. "http://host/parse/files/<appId>/"


async def get(conn: asyncpg.Connection, class_name: str, object_id: str, opts: FindOptions) -> str | None:
    """One object's JSON text, or None when there is no such object."""
    params = Params()
    oid = params.add(object_id, "::text")
    select = _select(opts, params)
    try:
        return await conn.fetchval(f"SELECT {select} FROM {table(class_name)} WHERE object_id = {oid}", *params.values)
    except asyncpg.exceptions.UndefinedTableError:
        return None


async def find(conn: asyncpg.Connection, class_name: str, opts: FindOptions) -> tuple[list[str], int | None]:
    """The matching objects' JSON texts and, when asked, the total count."""
    params = Params()
    cond = compile_where(opts.where, params)
    select = _select(opts, params)
    tbl = table(class_name)
    results: list[str] = []
    total = None
    try:
        if opts.limit > 0:
            sql = f"SELECT {select} FROM {tbl} WHERE {cond}"
            if opts.order:
                sql += f" ORDER BY {compile_order(opts.order)}"
            sql += f" LIMIT {int(opts.limit)} OFFSET {int(opts.skip)}"
            results = [r[0] for r in await conn.fetch(sql, *params.values)]
        if opts.count:
            count_params = Params()
            count_cond = compile_where(opts.where, count_params)
            total = await conn.fetchval(f"SELECT count(*) FROM {tbl} WHERE {count_cond}", *count_params.values)
    except asyncpg.exceptions.UndefinedTableError:
        return [], (0 if opts.count else None)
    return results, total
