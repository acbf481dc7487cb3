"""What a restore puts back, read from the history table in the writer's transaction
(`Projector.restore_target`, `Projector.restore_targets`; core/restore.py plans the events).

A version of the history table (`projections/history.py`) is valid for valid_from <= P <
valid_to; a `deleted` row means the object did not exist from then; rows of kind `schema` are a
field deletion's copies, not versions of their own.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.history.moment import Moment
from parsnip.core.layout import as_of_table, history_table, table, valid_at
from parsnip.core.query.sql.base import Params
from parsnip.core.restore import State, Target
from parsnip.projections.history import KIND_SCHEMA, stored_state

_COLUMNS = "created_at, updated_at, acl, data::text AS data, deleted"


async def position(conn: asyncpg.Connection, moment: Moment) -> int:
    """The log position a moment stands for (a date: the last event at or before it)."""
    params = Params()
    return await conn.fetchval("SELECT " + moment.position_sql(params.add), *params.values)


async def target(conn: asyncpg.Connection, class_name: str, object_id: str, moment: Moment | None,
                 version: int | None) -> Target | None:
    """The object at `moment`, or as its `version` (None: it has no such version)."""
    h = history_table(class_name)
    if not await _exists(conn, h):
        return None
    last = f"(SELECT max(version) FROM {h} WHERE object_id = $1) AS last"
    if version is not None:
        row = await conn.fetchrow(
            f"SELECT valid_from, {_COLUMNS}, {last} FROM {h} WHERE object_id = $1 AND version = $2"
            " AND kind <> $3 ORDER BY valid_from LIMIT 1", object_id, version, KIND_SCHEMA)
        if row is None:
            return None
        at = row["valid_from"]
    else:
        at = await position(conn, moment)
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS}, {last} FROM {h} WHERE object_id = $1 AND {valid_at('$2::bigint')}", object_id, at)
        if row is None:
            return Target(object_id, at, None, 0)  # it did not exist then
    state = None if row["deleted"] else stored_state(row["created_at"], row["updated_at"], row["acl"], row["data"])
    return Target(object_id, at, state, row["last"] or 0)


async def targets(conn: asyncpg.Connection, class_name: str, moment: Moment) -> tuple[int, list[tuple[Target, State | None]]]:
    """The class at `moment`: its position, and each object that differs from the live table,
    as (what it was then, what it is now). The live table is locked first (EXCLUSIVE, as a purge
    locks it), so no write slips in between this read and the commit."""
    at = await position(conn, moment)
    h, live = history_table(class_name), table(class_name)
    if not await _exists(conn, h):
        return at, []
    if await _exists(conn, live):
        await conn.execute(f"LOCK TABLE {live} IN EXCLUSIVE MODE")
    else:  # the class was dropped since: everything it held comes back
        live = ("(SELECT NULL::text AS object_id, NULL::int AS version, NULL::timestamptz AS created_at,"
                " NULL::timestamptz AS updated_at, NULL::jsonb AS acl, NULL::jsonb AS data WHERE false)")
    rows = await conn.fetch(
        f"WITH t AS (SELECT object_id, created_at, updated_at, acl, data FROM {as_of_table(class_name, '$1::bigint')})"
        " SELECT COALESCE(l.object_id, t.object_id) AS object_id, l.version,"
        "  l.created_at AS l_created, l.updated_at AS l_updated, l.acl AS l_acl, l.data::text AS l_data,"
        "  t.created_at AS t_created, t.updated_at AS t_updated, t.acl AS t_acl, t.data::text AS t_data,"
        f"  (SELECT max(version) FROM {h} AS v WHERE v.object_id = COALESCE(l.object_id, t.object_id)) AS last"
        f" FROM {live} AS l FULL JOIN t ON l.object_id = t.object_id"
        " WHERE l.object_id IS NULL OR t.object_id IS NULL OR l.acl IS DISTINCT FROM t.acl"
        "  OR l.data IS DISTINCT FROM t.data ORDER BY 1", at)
    out = []
    for r in rows:
        if r["last"] is None:  # a live object history never saw: the history tables predate it
            raise ParseError(ParseError.INTERNAL_SERVER_ERROR, f"The history of {class_name} is incomplete "
                             "(it was kept from after its objects were made): run `parsnip rebuild` first.")
        then = None if r["t_data"] is None else stored_state(r["t_created"], r["t_updated"], r["t_acl"], r["t_data"])
        now = None if r["l_data"] is None else (
            r["version"], stored_state(r["l_created"], r["l_updated"], r["l_acl"], r["l_data"]))
        out.append((Target(r["object_id"], at, then, r["last"]), now))
    return at, out


async def _exists(conn: asyncpg.Connection, quoted: str) -> Any:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", quoted)
