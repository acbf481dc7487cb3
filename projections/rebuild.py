"""Drop every projection table (the history tables too) and rebuild them by replaying the log
from position 1.

Runs in one transaction: a failure leaves the old projections as they were. `fingerprint`
hashes every projection row so a rebuild can be shown equal to what it replaced.
"""

from __future__ import annotations

from typing import Callable

import asyncpg

from parsnip.core import log as event_log
from parsnip.projections.store import SCHEMA_DDL, Projector

_BATCH = 2000


async def projection_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND (tablename LIKE 'p\\_%' OR tablename LIKE 'h\\_%'"
        " OR tablename IN ('parsnip_schema', 'parsnip_relations', 'parsnip_config', 'parsnip_files'))"
        " ORDER BY tablename"
    )
    return [r[0] for r in rows]


async def rebuild(conn: asyncpg.Connection, projector: Projector | None = None,
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Replay the whole log into fresh projections; returns the number of events replayed.
    `progress(replayed, head)` is called after each batch."""
    projector = projector or Projector()
    replayed = 0
    async with conn.transaction():
        # Writers append with this lock's sibling, the log head: holding the head row keeps
        # every writer out until the rebuild commits.
        head = await conn.fetchval("SELECT position FROM parsnip_log_head FOR UPDATE")
        for name in await projection_tables(conn):
            await conn.execute(f'DROP TABLE "{name}"')
        await conn.execute(SCHEMA_DDL)
        position = 0
        while True:
            events = await event_log.read_after(conn, position, _BATCH)
            if not events:
                break
            for ev in events:
                await projector.apply(conn, ev)
            await projector.record_history(conn, events)
            position = events[-1].position
            replayed += len(events)
            if progress is not None:
                progress(replayed, head)
    return replayed


async def fingerprint(conn: asyncpg.Connection) -> dict[str, str]:
    """Each projection table's row count and the sum of its rows' 60-bit md5 prefixes: equal
    fingerprints, equal tables (as sets of rows; every table has a key). A sum, not one md5 of
    the rows in order, because PostgreSQL caps a string at 1 GB: about 6M history rows."""
    out = {}
    for name in await projection_tables(conn):
        out[name] = await conn.fetchval(
            "SELECT count(*) || ':' || coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)"
            f' FROM "{name}" t'
        )
    return out
