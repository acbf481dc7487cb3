"""Finding users by provider id, and keeping a provider id on one user only.

Lookups are containment on the whole document (`data @> {"authData": {p: {"id": x}}}`), which
the GIN index every class table has serves.

Uniqueness is checked inside the writer's transaction (the projector calls `check_unique` for
every _User event that sets authData): it takes a transaction-scoped advisory lock per
(provider, id), then looks for another holder. The lock makes the check race-free across
nodes: a second writer waits until the first commits, and READ COMMITTED then shows it the
first one's row. We chose this over a unique expression index per provider because such an
index can only be made once the _User table exists, so the very first signups could race past
it, and it would need DDL per provider outside the log (lost on a rebuild).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.layout import USER_TABLE

ALREADY_LINKED = "this auth is already used"


async def users_with(conn: Any, ids: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """{objectId: (objectId, data)} of the users holding any of these {provider: id}."""
    found: dict[str, tuple[str, dict]] = {}
    for provider, pid in ids.items():
        try:
            rows = await conn.fetch(f'SELECT object_id, data FROM {USER_TABLE} WHERE data @> $1::jsonb',
                                    {"authData": {provider: {"id": pid}}})
        except asyncpg.exceptions.UndefinedTableError:
            return {}
        for r in rows:
            found[r["object_id"]] = (r["object_id"], dict(r["data"]))
    return found


async def check_unique(conn: Any, user_id: str, auth_data: Any) -> None:
    """208 when another user holds one of these provider ids; the caller is in a transaction."""
    if not isinstance(auth_data, dict):
        return
    keys = sorted((p, d["id"]) for p, d in auth_data.items() if isinstance(d, dict) and isinstance(d.get("id"), str))
    for provider, pid in keys:  # sorted: two writers lock in one order, never deadlock
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"parsnip_auth:{provider}:{pid}")
    for provider, pid in keys:
        taken = await conn.fetchval(
            f'SELECT 1 FROM {USER_TABLE} WHERE data @> $1::jsonb AND object_id <> $2 LIMIT 1',
            {"authData": {provider: {"id": pid}}}, user_id)
        if taken:
            raise ParseError(ParseError.ACCOUNT_ALREADY_LINKED, ALREADY_LINKED)


async def auth_data_of(conn: Any, user_id: str) -> dict[str, Any]:
    """The user's stored authData ({} when none, or no such user)."""
    try:
        value = await conn.fetchval(f'SELECT data->\'authData\' FROM {USER_TABLE} WHERE object_id = $1', user_id)
    except asyncpg.exceptions.UndefinedTableError:
        return {}
    return dict(value) if isinstance(value, dict) else {}
