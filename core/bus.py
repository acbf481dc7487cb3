"""The in-process bus: committed events, in position order, to every subscriber on this node.

The writer calls `publish` from the gateway's thread after each commit; the bus hops onto trio
and hands the events to each subscriber's bounded channel. A subscriber that falls behind by
more than its buffer is cut off (its channel closes) rather than growing this process's memory;
it can catch up from the log by position.
"""

from __future__ import annotations

import math
from typing import Sequence

import trio

from core.events import Event


class Bus:
    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self._subscribers: set[trio.MemorySendChannel] = set()
        self.last_position = 0

    def publish(self, events: Sequence[Event]) -> None:
        """Thread-safe: queue delivery of committed events on the trio side."""
        self._token.run_sync_soon(self._deliver, list(events))

    def _deliver(self, events: list[Event]) -> None:
        for ev in events:
            if ev.position is not None and ev.position > self.last_position:
                self.last_position = ev.position
        for send in list(self._subscribers):
            try:
                for ev in events:
                    send.send_nowait(ev)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(send)
                send.close()

    def subscribe(self, buffer: int | float = 10_000) -> trio.MemoryReceiveChannel:
        """A channel of every event committed from now on; closed if the reader falls behind."""
        send, receive = trio.open_memory_channel(math.inf if buffer == math.inf else int(buffer))
        self._subscribers.add(send)
        return receive
