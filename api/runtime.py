"""The running server's parts, wired together: gateway, log, projections, writer, bus.

This is the composition root: the one place where `core` (the write path, the bus) meets
`projections` (the tables the writer updates and the API reads).
"""

from __future__ import annotations

import re
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence, TypeVar

import trio

from core import log as event_log
from core.bus import Bus
from core.commands import Command, Result
from core.config import Config
from core.db import embedded
from core.db.gateway import Gateway
from core.events import Context
from core.follower import LogFollower
from core.schema import SchemaCache
from core.writer import Policy, Writer
from projections.store import Projector

T = TypeVar("T")

_BTREE_FIELD = re.compile(r"USING btree \(\(\(data -> '([A-Za-z][A-Za-z0-9_]*)'::text\)\)")


class Runtime:
    """What a request handler needs: configuration, reads, writes and the bus."""

    def __init__(self, config: Config, gateway: Gateway, schema: SchemaCache, writer: Writer, bus: Bus) -> None:
        self.config = config
        self.gateway = gateway
        self.schema = schema
        self.writer = writer
        self.bus = bus
        self._btree: dict[str, tuple[float, frozenset[str]]] = {}

    async def write(self, commands: Sequence[Command], context: Context) -> list[Result]:
        """Commit `commands` all-or-nothing. A cancelled caller does not cancel the write.

        Shielded: a request cancelled mid-write (a client that hangs up) still waits for the
        commit, so every write that reached the writer is committed and published, never lost
        between the log and its caller.
        """
        with trio.CancelScope(shield=True):
            return await self.gateway.call(self.writer.write, list(commands), context)

    async def has_class(self, name: str) -> bool:
        """Whether the class exists; a class another node just created is looked up, not missed."""
        if self.schema.has_class(name):
            return True
        rows = await self.gateway.fetch(
            "SELECT class_name, field, type FROM parsnip_schema WHERE class_name = $1", name
        )
        self.schema.load((r["class_name"], r["field"] or None, r["type"]) for r in rows)
        return bool(rows)

    async def btree_fields(self, class_name: str) -> frozenset[str]:
        """Fields of a class with a btree index leading on `data->'f'` (kept for 10 s).

        Equality on such a field is compiled for that index (core/query/sql/fields.py).
        """
        now = time.monotonic()
        cached = self._btree.get(class_name)
        if cached is not None and now - cached[0] < 10:
            return cached[1]
        rows = await self.gateway.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1",
            "p_" + class_name,
        )
        fields = frozenset(m.group(1) for r in rows if (m := _BTREE_FIELD.search(r[0])))
        self._btree[class_name] = (now, fields)
        return fields

    def indexes_changed(self, class_name: str) -> None:
        """Forget the btree fields of a class whose indexes this node just changed."""
        self._btree.pop(class_name, None)

    async def read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read function `fn(conn, *args)` on a pooled connection."""
        return await self.gateway.call(self._with_conn, fn, args)

    async def _with_conn(self, fn: Callable[..., Awaitable[T]], args: tuple) -> T:
        async with self.gateway.pool.acquire() as conn:
            return await fn(conn, *args)


def database_uri(config: Config) -> str:
    return config.databaseURI or embedded.start(config.dataDir)


async def install(gateway: Gateway, projector: Projector) -> None:
    """Create the log and projection tables if missing."""

    async def _install(pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", event_log.INSTALL_LOCK)
            await event_log.install(conn)
            await projector.install(conn)

    await gateway.call(_install, gateway.pool)


@asynccontextmanager
async def open_runtime(config: Config, dsn: str | None = None) -> AsyncIterator[Runtime]:
    """Start everything; on exit, commit every accepted write before closing the database.

    The log follower runs in a nursery owned by this context: it lives exactly as long as the
    runtime.
    """
    dsn = dsn or await trio.to_thread.run_sync(database_uri, config)
    projector = Projector()
    async with Gateway(dsn, max_size=config.databasePoolSize) as gateway:
        await install(gateway, projector)
        # The head first: a schema change committed after it is followed, one before is loaded.
        head = await gateway.call(_head, gateway)
        schema = SchemaCache()
        schema.load(await gateway.call(_load_schema, gateway, projector))
        bus = Bus(trio.lowlevel.current_trio_token(), head)
        policy = Policy(
            allow_client_class_creation=config.allowClientClassCreation,
            allow_custom_object_id=config.allowCustomObjectId,
        )
        writer = Writer(gateway.pool, projector, schema, bus, policy)
        follower = LogFollower(gateway, bus, schema)
        async with trio.open_nursery() as nursery:
            await nursery.start(follower.run)
            await gateway.call(_start_writer, writer)
            try:
                yield Runtime(config, gateway, schema, writer, bus)
            finally:
                with trio.CancelScope(shield=True):
                    await gateway.call(writer.drain_and_stop)
                nursery.cancel_scope.cancel()


async def _load_schema(gateway: Gateway, projector: Projector):
    async with gateway.pool.acquire() as conn:
        return await projector.load_schema(conn)


async def _head(gateway: Gateway) -> int:
    async with gateway.pool.acquire() as conn:
        return await event_log.head(conn)


async def _start_writer(writer: Writer) -> None:
    writer.start()
