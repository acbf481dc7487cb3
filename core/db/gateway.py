"""asyncpg on a uvloop event loop in one dedicated thread, awaited from trio.

asyncpg is asyncio-only; trio-asyncio costs about four times the throughput (see
benchmarks/bridge_bench.py). So all PostgreSQL work runs on one uvloop loop in its own thread
and trio awaits whole units of work: a query with its decoding, or a function that runs a
transaction. One crossing per unit, never one per row.

Cancellation: a cancelled trio caller cancels the asyncio task and waits until it has really
stopped (asyncpg then resets or drops the connection), so no work outlives its caller unseen.

Outages (core/db/monitor.py watches): while PostgreSQL cannot be reached, request work (`call`)
fails at once with `DatabaseUnavailable` instead of waiting on connects; when the outage is
detected, work already under way is cut short the same way (pool connections terminated,
waiting calls cancelled), so nothing waits on a silent socket. Connects time out after
CONNECT_TIMEOUT. `call_steady` is for work that must run whatever the database's state (the
writer, which settles its own outcomes; long-lived tasks; shutdown).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import weakref
from typing import Any, Awaitable, Callable, TypeVar

import asyncpg
import outcome
import trio

from parsnip.core.db import faults
from parsnip.core.db.monitor import CONNECT_TIMEOUT, Monitor
from parsnip.core.errors import DatabaseUnavailable

try:  # uvloop is the fast path; plain asyncio works where it is missing.
    import uvloop

    _new_loop = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    _new_loop = asyncio.new_event_loop

T = TypeVar("T")

logger = logging.getLogger("parsnip.db")
_POOL_LOG = logging.getLogger("asyncpg.pool")
_CLOSE_TIMEOUT = 5.0  # seconds for the pool to close gracefully at shutdown before it is cut


class Gateway:
    """Owns the loop thread and the asyncpg pool. Use as `async with Gateway(dsn) as gw:`."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10,
                 connect_timeout: float = CONNECT_TIMEOUT, **monitor_options: float) -> None:
        self.dsn = dsn
        self._min, self._max = min_size, max_size
        self.connect_timeout = connect_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: asyncpg.Pool | None = None
        self._thread: threading.Thread | None = None
        self.monitor = Monitor(dsn, self._state_changed, connect_timeout=connect_timeout, **monitor_options)
        self._monitor_task: asyncio.Task | None = None
        self._up = trio.Event()  # set while the database is reachable (trio side)
        self._up.set()
        # Loop thread only: request work under way (cut short when an outage is detected) and the
        # pool's connections (terminated then, so no query waits on a dead socket).
        self._requests: set[asyncio.Task] = set()
        self._cut: set[asyncio.Task] = set()
        self._connections: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
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
            self.pool = await self.call_steady(self._create_pool)
            await self.call_steady(self._start_monitor)
        except BaseException:
            await self._stop_loop()
            raise
        _POOL_LOG.addFilter(self._quiet)
        return self

    async def __aexit__(self, *exc: object) -> None:
        _POOL_LOG.removeFilter(self._quiet)
        with trio.CancelScope(shield=True):
            if self._monitor_task is not None:
                await self.call_steady(_cancel_and_wait, self._monitor_task)
                self._monitor_task = None
            if self.pool is not None:
                pool, self.pool = self.pool, None
                await self.call_steady(_close_pool, pool)
            await self._stop_loop()

    async def _create_pool(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self.dsn, min_size=self._min, max_size=self._max, init=self._init_connection,
            reset=_reset_connection, timeout=self.connect_timeout,
        )

    async def _start_monitor(self) -> None:
        self._monitor_task = asyncio.get_running_loop().create_task(self.monitor.run())

    async def _init_connection(self, conn: asyncpg.Connection) -> None:
        self._connections.add(conn)
        await _init_connection(conn)

    # -- the database's state ---------------------------------------------------------------
    @property
    def up(self) -> bool:
        """Whether PostgreSQL is reachable, as last seen by the monitor (no round trip)."""
        return self.monitor.up

    def check_up(self) -> None:
        """Raise `DatabaseUnavailable` at once while the database is known to be down."""
        if not self.monitor.up:
            raise DatabaseUnavailable()

    async def wait_up(self) -> None:
        """Trio side: return once the database is reachable (at once if it is)."""
        await self._up.wait()

    def pool_stats(self) -> dict[str, int]:
        """The pool's connections: open (`size`), `idle`, `in_use`, and `max` (for metrics)."""
        pool = self.pool
        if pool is None:
            return {"size": 0, "idle": 0, "in_use": 0, "max": self._max}
        size, idle = pool.get_size(), pool.get_idle_size()
        return {"size": size, "idle": idle, "in_use": size - idle, "max": pool.get_max_size()}

    def _quiet(self, record: logging.LogRecord) -> bool:
        """asyncpg retries its pool's minimum size, with a traceback each time: one line without
        it, and none while the monitor knows the database is down (it has said so)."""
        if not str(record.msg).startswith("Failed to restore the pool connection floor"):
            return True
        if record.exc_info:
            record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            record.exc_info = None
        return self.monitor.up

    def _state_changed(self, up: bool, _error: BaseException | None) -> None:
        """On the loop thread, from the monitor."""
        if not up:
            for conn in list(self._connections):
                if not conn.is_closed():
                    conn.terminate()
            for task in list(self._requests):
                self._cut.add(task)
                task.cancel()
        token = self._token
        if token is not None:
            try:
                token.run_sync_soon(self._mirror_state)
            except trio.RunFinishedError:  # pragma: no cover - shutting down
                pass

    def _mirror_state(self) -> None:
        """On the trio thread: the event follows the monitor's latest word."""
        if self.monitor.up and not self._up.is_set():
            self._up.set()
        elif not self.monitor.up and self._up.is_set():
            self._up = trio.Event()

    async def _stop_loop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await trio.to_thread.run_sync(self._thread.join)
            self.loop = None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run request work `await fn(*args)` on the loop thread and return its result to trio.

        While the database is down it fails at once; a connection failure, or an outage
        detected while it runs, raises `DatabaseUnavailable` (a Parse error, answered 503)."""
        if not self.monitor.up:
            raise DatabaseUnavailable()
        try:
            return await self._call(fn, args, True)
        except DatabaseUnavailable:
            raise
        except Exception as e:
            if faults.unavailable(e):
                raise DatabaseUnavailable() from e
            raise

    async def call_steady(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `await fn(*args)` on the loop thread whatever the database's state; an outage
        never cuts it short (the writer's entry and loop, long-lived tasks, shutdown work)."""
        return await self._call(fn, args, False)

    async def _call(self, fn: Callable[..., Awaitable[T]], args: tuple, request: bool) -> T:
        loop = self.loop
        if loop is None:
            raise RuntimeError("gateway is not running")
        task = trio.lowlevel.current_task()
        holder: dict[str, asyncio.Task] = {}
        cancel_requested = False

        def done(t: asyncio.Task) -> None:  # on the loop thread
            if request:
                self._requests.discard(t)
                if t in self._cut:
                    self._cut.discard(t)
                    if t.cancelled():
                        self._finished.append((task, outcome.Error(DatabaseUnavailable())))
                        return self._wake()
            self._finished.append((task, outcome.capture(t.result)))
            self._wake()

        def start() -> None:  # on the loop thread
            t = loop.create_task(fn(*args))
            holder["task"] = t
            if request:
                self._requests.add(t)
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
            result.error, (asyncio.CancelledError, DatabaseUnavailable)  # an outage cut it meanwhile
        ):
            await trio.lowlevel.checkpoint()  # the scope is cancelled: raises trio.Cancelled
        return result.unwrap()

    def _wake(self) -> None:  # on the loop thread
        if not self._wake_pending:
            self._wake_pending = True
            self._token.run_sync_soon(self._hand_back)

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


async def _cancel_and_wait(task: asyncio.Task) -> None:
    # Cancelled again until it ends: before Python 3.12, `asyncio.wait_for` swallows a
    # cancellation that arrives as its inner await completes (the monitor's ping), and the task
    # would go on for good (seen as `parsnip verify` hanging on exit now and then).
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("task ended with %r while being cancelled", task.exception())


async def _close_pool(pool: asyncpg.Pool) -> None:
    """Close gracefully; connections that do not answer in time (a dead network) are cut."""
    try:
        await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
    except (asyncio.TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        logger.warning("database pool did not close cleanly (%s); terminated", type(e).__name__)
        pool.terminate()


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
