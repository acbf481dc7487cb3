"""An object's versions from its class's history table, as the caller may see them (GET /history).

A version is shown only where the caller may read the object as that version stood: its ACL
then, pointer permissions, protected fields removed (the same `ReadAccess` SQL as a live read).
"""

from __future__ import annotations

import asyncpg

from parsnip.core.events import Context, decode_payload
from parsnip.core.history.entries import Version
from parsnip.core.layout import history_table
from parsnip.core.query.sql import Params
from parsnip.core.reads import FindOptions
from parsnip.projections.history import KIND_SCHEMA
from parsnip.projections.reader import readable_sql, select_sql

_NOTHING_HIDDEN = "'{}'::text[]"


def _visible(class_name: str, object_id: str, opts: FindOptions, params: Params) -> str:
    """The object's versions the caller may read (rows made by field deletions are not versions)."""
    return (f"FROM {history_table(class_name)} WHERE object_id = {params.add(object_id, '::text')}"
            f" AND kind <> {params.add(KIND_SCHEMA, '::text')} AND {readable_sql(opts, params)}")


async def versions(conn: asyncpg.Connection, class_name: str, object_id: str, opts: FindOptions, after: int,
                   limit: int) -> tuple[list[Version], bool]:
    """The versions after position `after` (oldest first, at most `limit`) and whether the
    caller may see any version at all (if not, the object is as good as missing)."""
    params = Params()
    select = select_sql(opts, params)
    hidden = (opts.access.hidden(params.add) if opts.access is not None else None) or _NOTHING_HIDDEN
    visible = _visible(class_name, object_id, opts, params)
    try:
        rows = await conn.fetch(
            "SELECT v.*, e.at, e.user_id, e.session_id, e.installation_id, e.master, e.request_id, e.client_ip,"
            f" e.payload FROM (SELECT valid_from, version, kind, CASE WHEN deleted THEN NULL ELSE {select} END"
            f" AS object, {hidden} AS hidden {visible} AND valid_from > {params.add(after, '::bigint')}"
            f" ORDER BY valid_from LIMIT {int(limit)}) AS v JOIN parsnip_events e ON e.position = v.valid_from"
            " ORDER BY v.valid_from",
            *params.values,
        )
        if rows or (after == 0 and limit > 0):
            return [_version(r) for r in rows], bool(rows)
        # A page past the end of a visible history is empty; of an invisible one, missing.
        again = Params()
        exists = f"SELECT EXISTS (SELECT 1 {_visible(class_name, object_id, opts, again)})"
        return [], await conn.fetchval(exists, *again.values)
    except asyncpg.exceptions.UndefinedTableError:
        return [], False


def _version(r: asyncpg.Record) -> Version:
    context = Context(user_id=r["user_id"], session_id=r["session_id"], installation_id=r["installation_id"],
                      master=r["master"], request_id=r["request_id"], client_ip=r["client_ip"])
    return Version(r["valid_from"], r["version"], r["kind"], r["at"], context, decode_payload(r["payload"]),
                   r["object"], frozenset(r["hidden"] or ()))
