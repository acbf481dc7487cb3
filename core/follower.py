"""Follows the log for what other nodes commit: feeds the bus and keeps the schema current.

Each node's writer publishes its own events at once; events committed elsewhere are found
here, woken by the NOTIFY every append sends (so within a round trip of the commit) and, in
case a notification is lost, by a periodic read. Reads are by position, so nothing is missed.

Outages: when the database goes away (the LISTEN connection ends, a read fails) the follower
waits for it with backoff, woken early when the gateway sees it back; then it LISTENs again
before it reads, so no commit falls between the two, and catches up from the bus's position.
It also fills what this node's writer could not publish itself (a commit whose outcome was
unknown), since the writer's reservations are released then.
"""

from __future__ import annotations

import logging

import asyncpg
import trio

from parsnip.core import log as event_log
from parsnip.core.bus import Bus
from parsnip.core.db import faults
from parsnip.core.db.gateway import Gateway
from parsnip.core.events import SCHEMA
from parsnip.core.schema import SchemaCache

logger = logging.getLogger("parsnip.follower")

POLL_SECONDS = 1.0
GAP_SECONDS = 0.05  # events wait in the bus for an earlier position: read the log this soon
BACKOFF = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0)  # seconds between attempts while the database is away
_BATCH = 1000


class LogRewound(Exception):
    """The database came back with fewer events than this node has already delivered."""


class LogFollower:
    def __init__(self, gateway: Gateway, bus: Bus, schema: SchemaCache) -> None:
        self._gateway = gateway
        self._bus = bus
        self._schema = schema
        self._wake = trio.Event()
        self._listener: asyncpg.Connection | None = None
        self.recoveries = 0  # times it resumed after losing the database (for tests and metrics)

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is open (notifications arrive)."""
        return self._listener is not None and not self._listener.is_closed()

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Follow until cancelled (it runs in the runtime's nursery). Only a failure that is not
        the database's absence ends it (a bug): the runtime then stops the process."""
        token = trio.lowlevel.current_trio_token()
        await self._gateway.call(self._listen, token)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_gaps)
                await self._follow(token)
        finally:
            with trio.CancelScope(shield=True):
                await self._gateway.call_steady(self._unlisten)

    async def _follow(self, token: trio.lowlevel.TrioToken) -> None:
        failures = 0
        while True:
            try:
                if not self.listening:
                    await self._gateway.call(self._listen, token)
                    if failures:
                        await self._check_history()
                await self.catch_up()
            except Exception as e:
                if not faults.unavailable(e):
                    raise
                if failures == 0:
                    cause = e.__cause__ or e
                    logger.warning("log follower lost the database (%s: %s); retrying until it is back",
                                   type(cause).__name__, cause)
                # The LISTEN connection may look open yet be dead (a silent network): LISTEN
                # again on a new one once the database answers.
                await self._gateway.call_steady(self._unlisten)
                delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                if self._gateway.up:
                    await trio.sleep(delay)
                else:
                    with trio.move_on_after(delay):
                        await self._gateway.wait_up()
                continue
            if failures:
                self.recoveries += 1
                logger.warning("log follower resumed at position %s, listening again", self._bus.last_position)
                failures = 0
            with trio.move_on_after(POLL_SECONDS):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _check_history(self) -> None:
        """After an outage: the database must still have every position this node delivered.
        A failover to a replica that lagged would reuse them, and this node would skip the
        new events silently; it must stop instead (it is restarted with the database's view)."""
        # Taken before the read: this node's writer may commit and deliver more meanwhile, and
        # those positions are not in a head read that started earlier.
        delivered = self._bus.last_position
        head = await self._gateway.call(self._head)
        if head < delivered:
            raise LogRewound(
                f"the database's log ends at position {head}, but this node has delivered up to "
                f"{delivered}: committed events were lost (a failover to a lagging replica, "
                "or a restore from backup?)")

    async def _head(self) -> int:
        async with self._gateway.pool.acquire() as conn:
            return await event_log.head(conn)

    def _notify(self) -> None:
        """On the trio thread: wake the follower (the event current now, not a replaced one)."""
        self._wake.set()

    async def _watch_gaps(self) -> None:
        """Events that came early (Redis) wait for an earlier one: if it has not come by
        GAP_SECONDS (its message lost, Redis down), read it from the log."""
        while True:
            await self._bus.gap.wait()
            await trio.sleep(GAP_SECONDS)
            if self._bus.gap.is_set():
                self._wake.set()

    async def catch_up(self) -> None:
        """Read and deliver everything after what the bus has delivered."""
        while True:
            events = await self._gateway.call(self._read, self._bus.last_position)
            if not events:
                return
            for ev in events:
                if ev.kind == SCHEMA:
                    self._schema.apply_event(ev.class_name, ev.payload, ev.position)
            self._bus.deliver(events)
            if len(events) < _BATCH:
                return

    async def _read(self, after: int):
        async with self._gateway.pool.acquire() as conn:
            return await event_log.read_after(conn, after, _BATCH)

    async def _listen(self, token: trio.lowlevel.TrioToken) -> None:
        conn = await asyncpg.connect(self._gateway.dsn, timeout=self._gateway.connect_timeout)

        def notified(*_args) -> None:  # on the loop thread
            token.run_sync_soon(self._notify)

        def lost(_conn) -> None:  # on the loop thread: the database went away
            try:
                token.run_sync_soon(self._notify)
            except trio.RunFinishedError:  # pragma: no cover - shutting down
                pass

        try:
            await conn.add_listener(event_log.CHANNEL, notified)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(lost)
        self._listener = conn

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=1)
        except Exception:  # gone already, or no answer: cut it
            conn.terminate()
