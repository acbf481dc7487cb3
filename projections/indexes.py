"""The PostgreSQL index behind each index of Parse's schema API, and its name (the keys were
checked by core/schema_plan.py).

A key of an ordered index is a btree expression `(data -> 'f')`, written exactly as the query
compiler writes equality on a scalar field (core/query/sql/fields.py), so the planner matches
it; objectId, createdAt and updatedAt are the table's own columns. A "text" index is a GIN on
`to_tsvector('english', data->>'f')`, the form `$text` is compiled to. "_id_" is the primary key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

from parsnip.core.layout import history_table_name, table_name
from parsnip.core.schema import check_field_name

PRIMARY = "_id_"
# The containment index on a table's documents (live and history). Without GIN's fast update,
# an insert adds its keys to the tree at once: with it they wait in a pending list that every
# index scan reads whole (up to 4 MB), which made a client's equality query cost PostgreSQL
# about 1 ms instead of 0.2 ms while writes went on, and inserts no faster (benchmarks/README.md,
# "Issue 15").
DATA_GIN = "USING gin (data jsonb_path_ops) WITH (fastupdate = off)"

_COLUMNS = {"objectId": "object_id", "createdAt": "created_at", "updatedAt": "updated_at", "ACL": "acl"}
_PLAIN = re.compile(r"^[A-Za-z0-9_]+$")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1


def pg_name(class_name: str, index: str, history: bool = False) -> str:
    """The PostgreSQL name of a class's index (or of its copy on the history table): readable
    when it can be, else a digest (index names are any string and PostgreSQL's names are per
    schema, not per table)."""
    named = history_table_name if history else table_name
    readable = f"{named(class_name)}_i_{index}"
    if _PLAIN.match(index) and len(readable.encode()) <= _MAX_IDENTIFIER:
        return readable
    digest = hashlib.sha1(f"{class_name}\0{index}".encode()).hexdigest()[:16]
    return f"{named(class_name[:30])}_i_{digest}"


def is_text(keys: Mapping[str, Any]) -> bool:
    return any(v == "text" for v in keys.values())


def _key(field: str, direction: Any) -> str:
    column = _COLUMNS.get(field)
    if column is None:
        check_field_name(field)  # spliced into the SQL text
        column = f"(data -> '{field}')"
    return f"{column} DESC" if direction == -1 else column


def create_sql(class_name: str, table: str, index: str, keys: Mapping[str, Any], history: bool = False) -> str:
    """CREATE INDEX for one schema index (not the primary key); `history`: its copy on the
    history table, so time travel is served as the live query is."""
    name = pg_name(class_name, index, history)
    if is_text(keys):
        vectors = []
        for field in keys:
            check_field_name(field)
            vectors.append(f"to_tsvector('english'::regconfig, (data->>'{field}'))")
        return f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} USING gin ({", ".join(vectors)})'
    columns = ", ".join(_key(f, d) for f, d in keys.items())
    return f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} ({columns})'


def drop_sql(class_name: str, index: str, history: bool = False) -> str:
    return f'DROP INDEX IF EXISTS "{pg_name(class_name, index, history)}"'


async def without_pending_lists(conn) -> None:
    """Turn fast update off on the data indexes a database made before DATA_GIN, and flush their
    pending lists (an index's list is otherwise read until the next VACUUM)."""
    rows = await conn.fetch(
        "SELECT c.oid::regclass::text AS idx FROM pg_class c JOIN pg_am a ON a.oid = c.relam"
        " WHERE a.amname = 'gin' AND c.relkind = 'i' AND c.relname LIKE '%\\_data'"
        " AND NOT coalesce(c.reloptions @> ARRAY['fastupdate=off'], false)")
    for (idx,) in rows:
        await conn.execute(f"ALTER INDEX {idx} SET (fastupdate = off)")
        await conn.execute("SELECT gin_clean_pending_list($1::regclass)", idx)
