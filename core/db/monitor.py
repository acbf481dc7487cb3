"""Whether PostgreSQL can be reached, known without a round trip per question.

One connection of its own, outside the pool (a busy pool is not a down database): a closed
connection is noticed at once (a restart or a crash ends it), a silent one by a ping every
`interval` seconds. The database is declared down only when a fresh connection fails too, and up
again as soon as one succeeds (tried every `retry` seconds meanwhile), so `/health` and the
gateway's fail-fast follow the database within about a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import asyncpg

logger = logging.getLogger("parsnip.db")

CONNECT_TIMEOUT = 3.0  # seconds to establish a connection, here and in the pool
PING_INTERVAL = 0.5
PING_TIMEOUT = 1.5
RETRY_INTERVAL = 0.2  # while down: how often to try again


class Monitor:
    """Runs on the gateway's loop; calls `on_change(up, error)` there on every transition."""

    def __init__(self, dsn: str, on_change: Callable[[bool, BaseException | None], None], *,
                 connect_timeout: float = CONNECT_TIMEOUT, interval: float = PING_INTERVAL,
                 ping_timeout: float = PING_TIMEOUT, retry: float = RETRY_INTERVAL) -> None:
        self._dsn = dsn
        self._on_change = on_change
        self._connect_timeout, self._interval = connect_timeout, interval
        self._ping_timeout, self._retry = ping_timeout, retry
        self.up = True  # the gateway only starts once its pool has connected
        self.down_since: float | None = None
        self.outages = 0
        self._lost = asyncio.Event()

    async def run(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while True:
                fresh = conn is None
                try:
                    if conn is None:
                        conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
                        self._lost.clear()
                        conn.add_termination_listener(lambda _c: self._lost.set())
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), self._ping_timeout)
                    self._set(True, None)
                    try:
                        await asyncio.wait_for(self._lost.wait(), self._interval)
                    except asyncio.TimeoutError:
                        pass
                except asyncio.CancelledError:
                    raise
                except asyncpg.TooManyConnectionsError:
                    self._set(True, None)  # the server answered: it is up, only full
                    conn = _drop(conn)
                    await asyncio.sleep(self._retry)
                except Exception as e:  # refused, reset, timed out, shutting down, ...
                    conn = _drop(conn)
                    if fresh:
                        self._set(False, e)
                        await asyncio.sleep(self._retry)
                    # else: a connection that had worked broke; judge by a new one, now
        finally:
            _drop(conn)

    def _set(self, up: bool, error: BaseException | None) -> None:
        if up == self.up:
            return
        self.up = up
        now = time.monotonic()
        if up:
            logger.warning("database reachable again after %.1f s", now - (self.down_since or now))
            self.down_since = None
        else:
            self.outages += 1
            self.down_since = now
            logger.error("database unreachable (%s: %s); requests answer 503 until it is back",
                         type(error).__name__, error)
        try:
            self._on_change(up, error)
        except Exception:  # pragma: no cover - a bug in the handler must not stop the watch
            logger.exception("database state handler failed")


def _drop(conn: asyncpg.Connection | None) -> None:
    if conn is not None and not conn.is_closed():
        conn.terminate()
    return None
