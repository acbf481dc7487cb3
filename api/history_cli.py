"""`parsnip history {className} {objectId}`: an object's versions as a table in the terminal,
read straight from the database as the master key sees them (no server needed)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import trio

from parsnip.core.config import Config
from parsnip.core.history.entries import Version, by
from parsnip.core.values import iso

_COLUMNS = ("position", "version", "op", "at", "by", "changes")
_WIDEST_CHANGES = 60


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(className, objectId, limit, after) and the rest of the arguments, which are server options."""
    p = argparse.ArgumentParser(prog="parsnip history", description="Print an object's history as a table.",
                                epilog="Server options (--databaseURI, a config file, ...) as for `parsnip`.")
    p.add_argument("className")
    p.add_argument("objectId")
    p.add_argument("--limit", type=int, default=1000, help="versions to print at most (default 1000)")
    p.add_argument("--after", type=int, default=0, help="only versions after this log position")
    return p.parse_known_args(argv)


def table(versions: Sequence[Version]) -> str:
    """The versions as aligned text columns, one line each."""
    rows = [_COLUMNS] + [_row(v) for v in versions]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row(v: Version) -> tuple[str, ...]:
    who = by(v.context, True)
    actor = "master" if who["master"] else (f"user {who['user']}" if who["user"] else "anonymous")
    changes = json.dumps(v.payload.get("ops", {}), separators=(",", ":"))
    if v.payload.get("hooked"):
        changes += " (trigger: " + ",".join(v.payload["hooked"]) + ")"
    if len(changes) > _WIDEST_CHANGES:
        changes = changes[:_WIDEST_CHANGES - 3] + "..."
    op = {"purge": "delete"}.get(v.kind, v.kind)
    return (str(v.position), str(v.version), op, iso(v.at), actor, changes)


async def show(cfg: Config, class_name: str, object_id: str, limit: int, after: int) -> int:
    """Print the table; 1 when the object has no history (or the class name is not one)."""
    from parsnip.api.runtime import database_uri
    from parsnip.core.db.gateway import Gateway
    from parsnip.core.errors import ParseError
    from parsnip.core.reads import FindOptions
    from parsnip.core.security.auth import MASTER
    from parsnip.core.security.guard import ReadAccess
    from parsnip.projections.versions import versions

    try:
        opts = FindOptions(access=ReadAccess(class_name, MASTER))  # internal fields stay out, as for the API
        dsn = await trio.to_thread.run_sync(database_uri, cfg)

        async def run(pool):
            async with pool.acquire() as conn:
                return await versions(conn, class_name, object_id, opts, after, limit)

        async with Gateway(dsn) as gw:
            found, _ = await gw.call(run, gw.pool)
    except ParseError as e:
        print(f"parsnip history: {e.message}", file=sys.stderr)
        return 1
    if not found:
        print(f"no history for {class_name}/{object_id}", file=sys.stderr)
        return 1
    print(table(found))
    return 0
