"""One LiveQuery client: its subscriptions, its bounded send queue and the tasks that serve it.

Events are pushed synchronously by the dispatcher into the client's queue; the client's own
sender task writes everything waiting in one go. A client whose queue passes `max_queue`
messages is cut off with an error (code 5, reconnect true) instead of growing the server's
memory; it may reconnect and resume from the last position it saw. A client that stops reading
altogether is dropped by the transport's write timeout (`livequery/websocket.py`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import trio

from parsnip.core import metrics
from parsnip.livequery import protocol
from parsnip.livequery.websocket import Stalled, Transport

if TYPE_CHECKING:
    from parsnip.core.security.guard import ReadAccess
    from parsnip.livequery.principal import Principal
    from parsnip.livequery.registry import Query

logger = logging.getLogger("parsnip.livequery")


@dataclass(eq=False, slots=True)
class Subscription:
    connection: "Connection"
    request_id: Any
    request_id_json: str
    query: "Query"
    keys: tuple[str, ...] | None
    watch: tuple[str, ...] | None
    principal: "Principal"
    operation: str  # the CLP operation it was allowed by: "find", or "get" for one objectId
    access: "ReadAccess | None"  # None: the class-level permissions now refuse it (events skipped)
    held: list | None = None  # while it resumes: live events kept until the missed ones are sent
    active: bool = True


class Connection:
    def __init__(self, transport: Transport, client_ip: str | None, max_queue: int) -> None:
        self.transport = transport
        self.client_ip = client_ip
        self.id: str | None = None  # set by connect
        self.installation_id: str | None = None
        self.master = False
        self.session_token: str | None = None
        self.subscriptions: dict[Any, Subscription] = {}
        # Request ids of subscriptions the server ended (session ended, matching failed), oldest
        # first: the SDK still holds them and its `unsubscribe` must not look like a client bug.
        self.ended: dict[Any, None] = {}
        self.prefixes: dict[str, str] = {}
        self._queue: deque[Any] = deque()  # texts, and renderers while after-event hooks run
        self._deferred = False  # a renderer is queued
        self._max = max_queue
        self._wake = trio.Event()
        self._room = trio.Event()
        self.overflowed = False
        self.closed = False
        self.close_code: tuple[int, str] = (1000, "")  # the close frame the server sends at the end

    def connected(self, installation_id: str | None, master: bool, session_token: str | None) -> None:
        self.id = str(uuid.uuid4())
        self.installation_id = installation_id
        self.master = master
        self.session_token = session_token
        self.prefixes = protocol.event_prefix(self.id, installation_id)

    def remember_ended(self, request_id: Any, limit: int) -> None:
        """Note that the server ended subscription `request_id`, keeping at most `limit` ids."""
        self.ended.pop(request_id, None)
        self.ended[request_id] = None
        while len(self.ended) > limit:
            del self.ended[next(iter(self.ended))]

    # -- sending ---------------------------------------------------------------------------
    def push(self, text: str) -> None:
        """Queue a message (never blocks); past the bound the client is cut off."""
        if self.closed or self.overflowed:
            return
        if len(self._queue) >= self._max:
            self.cut_off()
            return
        self._queue.append(text)
        self._wake.set()

    def push_later(self, render: Callable[[], Awaitable[str | None]]) -> None:
        """Queue a message whose text is made by `render` when its turn to be sent comes (an
        after-event hook runs there, on the client's own task, in order)."""
        if not (self.closed or self.overflowed):
            self._deferred = True
        self.push(render)  # type: ignore[arg-type]

    def cut_off(self) -> None:
        """Drop the client: it has fallen further behind than the server will hold for it."""
        self.overflowed = True
        metrics.LQ_CUT_OFF.inc()
        self._queue.clear()
        self._wake.set()

    def queued(self) -> int:
        """Messages waiting to be sent (for the metrics)."""
        return len(self._queue)

    async def push_when_room(self, text: str | Callable[[], Awaitable[str | None]]) -> None:
        """Queue a message, first waiting while the queue is more than half full (for replays,
        which must not cut their own client off)."""
        while len(self._queue) > self._max // 2 and not self.closed:
            self._room = trio.Event()
            await self._room.wait()
        if isinstance(text, str):
            self.push(text)
        else:
            self.push_later(text)

    async def run_sender(self) -> None:
        """Write whatever is queued, in order, until the client goes or is cut off."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            if self.overflowed:
                self.close_code = (1008, "send queue overflow")
                await self._send([protocol.error(protocol.SLOW_CLIENT,
                                                 "Client too slow: its send queue overflowed; reconnect and resume",
                                                 True)])
                return
            if self._queue:
                batch = list(self._queue)
                self._queue.clear()
                self._room.set()
                if self._deferred:
                    self._deferred = False
                    batch = await _rendered(batch)
                if batch and not await self._send(batch):
                    return
            if self.closed:
                return

    async def _send(self, batch: list[str]) -> bool:
        try:
            await self.transport.send_many(batch)
            return True
        except Stalled as e:
            logger.info("LiveQuery client %s (%s) dropped: %s", self.id, self.client_ip, e)
            self.closed = True
            self._room.set()
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed = True
            self._room.set()
            return False

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._room.set()


async def _rendered(batch: list[Any]) -> list[str]:
    out = []
    for item in batch:
        text = item if isinstance(item, str) else await item()
        if text is not None:
            out.append(text)
    return out


def request_id_json(request_id: Any) -> str:
    """The requestId as JavaScript would print it (1.0 is 1)."""
    if isinstance(request_id, float) and request_id.is_integer():
        request_id = int(request_id)
    return json.dumps(request_id)
