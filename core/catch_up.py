"""A catch-up subscription: every committed event after a log position, each once and in
position order, first read from the log, then live from the bus, for as long as the reader reads.

The bus is subscribed to before the log is read, so an event committed while the log is being
read reaches the channel (it was not yet delivered when the channel opened); the channel's
copies of what the log already gave are dropped by position. LiveQuery's resume
(`livequery/resume.py`) holds live events during its replay for the same reason. A reader that
falls behind is cut off by the bus (bounded memory); it then reads from the log again, which is
the source of truth, and subscribes afresh before doing so.
"""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable

import trio

from parsnip.core.bus import Bus
from parsnip.core.events import Event

ReadAfter = Callable[[int, int], Awaitable[list[Event]]]  # (after, limit) -> events, in order

BATCH = 1000  # events per log read
BUFFER = 1000  # live events held for a slow reader before the bus cuts it off


async def follow(bus: Bus, read: ReadAfter, after: int, keep: Callable[[Event], bool] = lambda ev: True,
                 idle: float = 15.0, batch: int = BATCH, buffer: int = BUFFER) -> AsyncIterator[list[Event]]:
    """Batches of events with positions after `after` that `read` returns and `keep` accepts
    (`read` must apply the same filter), in order; an empty batch after `idle` seconds with none."""
    last = after
    while True:
        channel = bus.subscribe(buffer)
        try:
            while True:  # the backlog, from the log
                events = await read(last, batch)
                if events:
                    last = events[-1].position
                    yield events
                if len(events) < batch:
                    break
            quiet_until = trio.current_time() + idle  # events another reader wants do not count
            while True:  # live; the bus ends the channel if this reader falls `buffer` behind
                got: list[Event] | None = None
                try:
                    with trio.move_on_at(quiet_until):
                        got = [await channel.receive()]
                except trio.EndOfChannel:
                    break  # cut off: read the log again
                if got is None:
                    yield []  # nothing for `idle` seconds
                    quiet_until = trio.current_time() + idle
                    continue
                fresh = [ev for ev in got + _waiting(channel) if ev.position > last and keep(ev)]
                if fresh:
                    last = fresh[-1].position
                    yield fresh
                    quiet_until = trio.current_time() + idle
        finally:
            channel.close()


def _waiting(channel: trio.MemoryReceiveChannel) -> list[Event]:
    out: list[Event] = []
    while True:
        try:
            out.append(channel.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out
