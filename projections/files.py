"""Reads of the files projection (`parsnip_files`, written by `store.py`) and of the objects that
point at a file; the files service reaches them as `Runtime.file_reads` (core/services/files.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import asyncpg

from parsnip.core.layout import table


async def record(conn: asyncpg.Connection, name: str) -> dict[str, Any] | None:
    """A file's record as its events left it (None: never uploaded here)."""
    row = await conn.fetchrow(
        "SELECT name, content_type, size, digest, metadata, tags, created_at, deleted_at FROM parsnip_files"
        " WHERE name = $1", name)
    return None if row is None else dict(row)


async def referenced(conn: asyncpg.Connection, name: str, file_fields: Iterable[tuple[str, str]],
                     array_fields: Iterable[tuple[str, str]] = ()) -> bool:
    """Whether a live object holds the file in one of `file_fields` ((class, field) of type File)
    or as an element of one of `array_fields` ((class, field) of type Array). Asked as
    containment, which the class's GIN on `data` serves, not by scanning the table."""
    for class_name, field in file_fields:
        found = await conn.fetchval(
            f"SELECT 1 FROM {table(class_name)} WHERE data @> jsonb_build_object($2::text,"
            " jsonb_build_object('name', $1::text)) LIMIT 1", name, field)
        if found:
            return True
    for class_name, field in array_fields:
        found = await conn.fetchval(
            f"SELECT 1 FROM {table(class_name)} WHERE data @> jsonb_build_object($2::text, jsonb_build_array("
            "jsonb_build_object('__type', 'File', 'name', $1::text))) LIMIT 1", name, field)
        if found:
            return True
    return False


async def expired(conn: asyncpg.Connection, after: datetime, before: datetime,
                  limit: int = 500) -> list[tuple[str, datetime]]:
    """Files deleted in (after, before): the janitor's candidates, oldest first, with when."""
    rows = await conn.fetch(
        "SELECT name, deleted_at FROM parsnip_files WHERE deleted_at > $1 AND deleted_at < $2"
        " ORDER BY deleted_at LIMIT $3", after, before, limit)
    return [(r["name"], r["deleted_at"]) for r in rows]
