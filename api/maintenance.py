"""The operators' commands on a database, without a server: `parsnip rebuild`, `verify`, `erase`.

Each opens the database (`databaseURI`, else the embedded one), does one job, prints progress
to stderr at most once a second with its rate in events/s, and its result to stdout.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from typing import Callable

import trio

from parsnip.core.config import Config


class Progress:
    """`progress(done, total)` callbacks that print "<verb> done/total events (rate events/s)"."""

    def __init__(self, verb: str, every: float = 1.0) -> None:
        self.verb, self.every = verb, every
        self.started = self.shown = time.monotonic()
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        if time.monotonic() - self.shown >= self.every:
            self.shown = time.monotonic()
            print(f"{self.verb} {done:,}/{total:,} events ({self.rate():,.0f} events/s)", file=sys.stderr, flush=True)

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def summary(self) -> str:
        return f"{self.done:,} events in {time.monotonic() - self.started:.1f} s ({self.rate():,.0f} events/s)"


async def _on_database(cfg: Config, job: Callable) -> object:
    """`job(conn)` on a connection to the configured database."""
    from parsnip.api.runtime import database_uri
    from parsnip.core.db.gateway import Gateway

    dsn = await trio.to_thread.run_sync(database_uri, cfg)

    async def run(pool):
        async with pool.acquire() as conn:
            return await job(conn)

    async with Gateway(dsn) as gw:
        return await gw.call(run, gw.pool)


async def rebuild(cfg: Config) -> None:
    from parsnip.projections.rebuild import fingerprint, rebuild as replay

    progress = Progress("replayed")

    async def job(conn):
        before = await fingerprint(conn)
        progress.started = time.monotonic()
        n = await replay(conn, progress=progress)
        return n, before, await fingerprint(conn)

    n, before, after = await _on_database(cfg, job)
    same = "identical to" if before == after else "DIFFERENT from"
    print(f"replayed {n} events into {len(after)} projection tables; result {same} the tables it replaced")
    print(progress.summary())


async def verify(cfg: Config) -> bool:
    """Check the chain; print the verdict as JSON last. True when the log verifies."""
    import asyncpg

    from parsnip.core.verify import verify as check

    progress = Progress("verified")
    try:
        verdict = await _on_database(cfg, lambda conn: check(conn, progress))
    except asyncpg.exceptions.UndefinedColumnError:
        print("parsnip verify: this log has no hash chain yet; start parsnip once on it to chain it",
              file=sys.stderr)
        return False
    if verdict.ok:
        print(f"ok: {progress.summary()}; head {verdict.head_position} {verdict.head_hash}")
    else:
        print(f"BROKEN at position {verdict.broken_at}: {verdict.checked:,} events verified before it")
    print(json.dumps(verdict.as_json()))
    return verdict.ok


async def erase(cfg: Config, class_name: str, object_id: str, by: str | None, reason: str | None) -> None:
    from parsnip.core import erasure, log as event_log
    from parsnip.core.events import Context
    from parsnip.projections.store import Projector

    projector = Projector()

    async def job(conn):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", event_log.INSTALL_LOCK)
            await event_log.install(conn)  # a log from before the chain gets it first
        return await erasure.erase(conn, projector, class_name, object_id, Context(master=True),
                                   by or getpass.getuser(), reason)

    done = await _on_database(cfg, job)
    print(f"erased {len(done.positions)} events of {class_name} {object_id}; tombstone at position {done.position}")
    print(json.dumps({"position": done.position, "at": done.at, "erased": done.positions}))
