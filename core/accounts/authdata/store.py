"""Finding users by provider id, and keeping a provider id on one user only.

Lookups are containment on the whole document (`data @> {"authData": {p: {"id": x}}}`), which
the GIN index every class table has serves.

Uniqueness: a unique expression index per provider on `data->'authData'->p->>'id'`, made the
first time an id of that provider is written. We chose it over a check in the writer's
transaction because a check there is not race-free across nodes (two transactions both find
nothing, then both commit) without a lock taken in the writer, while the index makes
PostgreSQL refuse the second one whatever node writes it; the projector turns the violation
into 208. The index is looked for in the catalog on each link or signup (rare writes), so it
comes back after a projection rebuild, and is made outside the writer's transaction so that no
writer holds row locks while it waits for the table's share lock.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from core.accounts.authdata.base import PROVIDER_NAME

USER_TABLE = "p__User"
INDEX_PREFIX = "p__User_authData_"
ALREADY_LINKED = "this auth is already used"

log = logging.getLogger("parsnip.authdata")


def index_name(provider: str) -> str:
    return INDEX_PREFIX + provider


async def users_with(conn: Any, ids: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """{objectId: (objectId, data)} of the users holding any of these {provider: id}."""
    found: dict[str, tuple[str, dict]] = {}
    for provider, pid in ids.items():
        try:
            rows = await conn.fetch(f'SELECT object_id, data FROM "{USER_TABLE}" WHERE data @> $1::jsonb',
                                    {"authData": {provider: {"id": pid}}})
        except asyncpg.exceptions.UndefinedTableError:
            return {}
        for r in rows:
            found[r["object_id"]] = (r["object_id"], dict(r["data"]))
    return found


async def ensure_unique(conn: Any, providers: list[str]) -> bool:
    """Make the unique index of each provider that lacks one; False when there is no _User
    table yet (the caller asks again after its write made it)."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{USER_TABLE}"')
    if not exists:
        return False
    have = {r[0] for r in await conn.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1", USER_TABLE)}
    for provider in providers:
        if index_name(provider) in have:
            continue
        assert PROVIDER_NAME.match(provider)  # spliced below; the registry only knows such names
        try:
            await conn.execute(
                f'CREATE UNIQUE INDEX IF NOT EXISTS "{index_name(provider)}" ON "{USER_TABLE}"'
                f" ((data->'authData'->'{provider}'->>'id'))")
        except asyncpg.exceptions.DuplicateTableError:
            pass  # another node made it at the same moment
        except asyncpg.exceptions.UniqueViolationError as e:
            if e.constraint_name != "pg_class_relname_nsp_index":  # not that race: duplicates exist
                log.error("auth.%s: ids are not unique, no unique index made: %s", provider, e)
    return True


async def auth_data_of(conn: Any, user_id: str) -> dict[str, Any]:
    """The user's stored authData ({} when none, or no such user)."""
    try:
        value = await conn.fetchval(f'SELECT data->\'authData\' FROM "{USER_TABLE}" WHERE object_id = $1', user_id)
    except asyncpg.exceptions.UndefinedTableError:
        return {}
    return dict(value) if isinstance(value, dict) else {}
