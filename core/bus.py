"""The in-process bus: every committed event, from any node, in position order.

Events reach it two ways: this node's writer publishes its own right after commit (from the
gateway's thread), and the log follower feeds events other nodes committed. The bus delivers
strictly in position order, holding back an event until every earlier position has arrived, so
a consumer never sees one object's changes out of commit order.

A subscriber that falls behind by more than its buffer is cut off (its channel closes) rather
than growing this process's memory; it can catch up from the log by position.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import trio

from parsnip.core.events import Event


class Bus:
    def __init__(self, token: trio.lowlevel.TrioToken, last_position: int = 0) -> None:
        self._token = token
        self._subscribers: set[trio.MemorySendChannel] = set()
        self._pending: dict[int, Event] = {}
        self._reserved: set[int] = set()  # positions our writer is committing; its copy will come
        self.last_position = last_position  # every event up to here has been delivered
        self.gap = trio.Event()  # set while events wait for an earlier position
        self._watchers: list[Callable[[list[Event]], None]] = []

    def publish(self, events: Sequence[Event]) -> None:
        """Thread-safe: hand this node's committed events to the trio side."""
        self._token.run_sync_soon(self._deliver_own, list(events))

    def reserve(self, first: int, last: int) -> None:
        """Thread-safe, called before commit: positions whose copy our writer will publish.

        Queued on trio before the commit's NOTIFY can wake the follower, so the follower's
        log copies of these positions (which lack the object's state) are never used.
        """
        self._token.run_sync_soon(self._reserved.update, range(first, last + 1))

    def release(self, first: int, last: int) -> None:
        """Thread-safe: the reserved positions were not committed (another writer may reuse them)."""
        self._token.run_sync_soon(self._reserved.difference_update, range(first, last + 1))

    def _deliver_own(self, events: list[Event]) -> None:
        for ev in events:
            self._reserved.discard(ev.position)
        self.deliver(events)

    def deliver(self, events: Sequence[Event]) -> None:
        """Trio side: queue events by position and pass on every one that is next in order."""
        for ev in events:
            if ev.position in self._reserved:
                continue  # a log copy of our own write: the writer's copy (already decoded) comes
            if ev.position is not None and ev.position > self.last_position:
                self._pending.setdefault(ev.position, ev)
        ready = []
        while self.last_position + 1 in self._pending:
            self.last_position += 1
            ready.append(self._pending.pop(self.last_position))
        if self._pending:
            self.gap.set()
        elif self.gap.is_set():
            self.gap = trio.Event()
        if ready:
            self._send(ready)

    def watch(self, fn: Callable[[list[Event]], None]) -> None:
        """Call `fn(events)` synchronously with every batch delivered, before any subscriber
        runs (for caches that must never serve a stale answer, e.g. roles)."""
        self._watchers.append(fn)

    def _send(self, events: list[Event]) -> None:
        for fn in self._watchers:
            fn(events)
        for send in list(self._subscribers):
            try:
                for ev in events:
                    send.send_nowait(ev)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(send)
                send.close()

    def subscribe(self, buffer: int | float = 10_000) -> trio.MemoryReceiveChannel:
        """A channel of every event delivered from now on; closed if the reader falls behind."""
        send, receive = trio.open_memory_channel(math.inf if buffer == math.inf else int(buffer))
        self._subscribers.add(send)
        return receive
