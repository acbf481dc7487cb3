"""Follows the log for what other nodes commit: feeds the bus and keeps the schema current.

Each node's writer publishes its own events at once; events committed elsewhere are found
here, woken by the NOTIFY every append sends (so within a round trip of the commit) and, in
case a notification is lost, by a periodic read. Reads are by position, so nothing is missed.
"""

from __future__ import annotations

import logging

import asyncpg
import trio

from core import log as event_log
from core.bus import Bus
from core.db.gateway import Gateway
from core.events import SCHEMA
from core.schema import SchemaCache

logger = logging.getLogger("parsnip.follower")

POLL_SECONDS = 1.0
GAP_SECONDS = 0.05  # events wait in the bus for an earlier position: read the log this soon
_BATCH = 1000


class LogFollower:
    def __init__(self, gateway: Gateway, bus: Bus, schema: SchemaCache) -> None:
        self._gateway = gateway
        self._bus = bus
        self._schema = schema
        self._wake = trio.Event()
        self._listener: asyncpg.Connection | None = None

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Follow until cancelled (it runs in the runtime's nursery)."""
        token = trio.lowlevel.current_trio_token()
        await self._gateway.call(self._listen, token)
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_gaps)
                while True:
                    with trio.move_on_after(POLL_SECONDS):
                        await self._wake.wait()
                    self._wake = trio.Event()
                    await self.catch_up()
        finally:
            with trio.CancelScope(shield=True):
                await self._gateway.call(self._unlisten)

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
        self._listener = await asyncpg.connect(self._gateway.dsn)

        def notified(*_args) -> None:  # on the loop thread
            token.run_sync_soon(self._wake.set)

        await self._listener.add_listener(event_log.CHANNEL, notified)

    async def _unlisten(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
