"""asyncpg on a uvloop event loop in one dedicated thread, awaited from trio.

asyncpg is asyncio-only; trio-asyncio costs about four times the throughput (see
benchmarks/bridge_bench.py). So all PostgreSQL work runs on one uvloop loop in its own thread
and trio awaits whole units of work: a query with its decoding, or a function that runs a
transaction. One crossing per unit, never one per row.

Cancellation: a cancelled trio caller cancels the asyncio task and waits until it has really
stopped (asyncpg then resets or drops the connection), so no work outlives its caller unseen.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any, Awaitable, Callable, TypeVar

import asyncpg
import outcome
import trio

try:  # uvloop is the fast path; plain asyncio works where it is missing.
    import uvloop

    _new_loop = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    _new_loop = asyncio.new_event_loop

T = TypeVar("T")


class Gateway:
    """Owns the loop thread and the asyncpg pool. Use as `async with Gateway(dsn) as gw:`."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._min, self._max = min_size, max_size
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: asyncpg.Pool | None = None
        self._thread: threading.Thread | None = None
        # Finished calls waiting to be handed back to trio. The loop thread wakes trio once per
        # burst, not once per call: each wake-up is a syscall and a trip through the GIL.
        self._finished: collections.deque[tuple[trio.lowlevel.Task, outcome.Outcome]] = collections.deque()
        self._wake_pending = False
        self._token: trio.lowlevel.TrioToken | None = None

    async def __aenter__(self) -> "Gateway":
        ready = threading.Event()
        self._token = trio.lowlevel.current_trio_token()

        def run_loop() -> None:
            loop = _new_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run_loop, name="parsnip-pg", daemon=True)
        self._thread.start()
        await trio.to_thread.run_sync(ready.wait)
        try:
            self.pool = await self.call(self._create_pool)
        except BaseException:
            await self._stop_loop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        with trio.CancelScope(shield=True):
            if self.pool is not None:
                pool, self.pool = self.pool, None
                await self.call(pool.close)
            await self._stop_loop()

    async def _create_pool(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self.dsn, min_size=self._min, max_size=self._max, init=_init_connection,
            reset=_reset_connection,
        )

    async def _stop_loop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await trio.to_thread.run_sync(self._thread.join)
            self.loop = None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `await fn(*args)` on the loop thread and return its result to trio."""
        loop = self.loop
        if loop is None:
            raise RuntimeError("gateway is not running")
        task = trio.lowlevel.current_task()
        holder: dict[str, asyncio.Task] = {}
        cancel_requested = False

        def done(t: asyncio.Task) -> None:  # on the loop thread
            self._finished.append((task, outcome.capture(t.result)))
            if not self._wake_pending:
                self._wake_pending = True
                self._token.run_sync_soon(self._hand_back)

        def start() -> None:  # on the loop thread
            t = loop.create_task(fn(*args))
            holder["task"] = t
            t.add_done_callback(done)

        def cancel() -> None:  # on the loop thread; always after start (FIFO)
            holder["task"].cancel()

        def abort(_raise_cancel: Any) -> trio.lowlevel.Abort:
            nonlocal cancel_requested
            cancel_requested = True
            loop.call_soon_threadsafe(cancel)
            return trio.lowlevel.Abort.FAILED  # we stay blocked until the task has finished

        loop.call_soon_threadsafe(start)
        result = await trio.lowlevel.wait_task_rescheduled(abort)
        if cancel_requested and isinstance(result, outcome.Error) and isinstance(
            result.error, asyncio.CancelledError
        ):
            await trio.lowlevel.checkpoint()  # the scope is cancelled: raises trio.Cancelled
        return result.unwrap()

    def _hand_back(self) -> None:
        """On the trio thread: wake every caller whose call has finished."""
        # Cleared before draining: a call finishing after this line schedules a new wake-up.
        self._wake_pending = False
        while self._finished:
            task, result = self._finished.popleft()
            # Wrapped in a Value so the caller receives the outcome itself and unwraps it.
            trio.lowlevel.reschedule(task, outcome.Value(result))

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.call(self._fetch, sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.call(self._fetch, sql, args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.call(self._execute, sql, args)

    async def _fetch(self, sql: str, args: tuple) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def _execute(self, sql: str, args: tuple) -> str:
        return await self.pool.execute(sql, *args)


async def _reset_connection(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset costs a round trip per release (UNLISTEN, RESET ALL, ...).
    # Pooled connections keep no session state here (no SET, LISTEN or session locks), so
    # only an unfinished transaction needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb <-> Python values with the fast json codec; projections are read as text and
    # decoded once per row.
    import json

    await conn.set_type_codec(
        "jsonb", encoder=lambda v: json.dumps(v, separators=(",", ":")), decoder=json.loads,
        schema="pg_catalog", format="text",
    )
