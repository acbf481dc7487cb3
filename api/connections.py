"""A serving process's client connections, so that shutdown never waits on a client.

`api/listener.py` registers every accepted connection for its whole life. `requests(app)`
wraps the ASGI app and counts the requests the server is working on: from the moment a request
has been received whole to the moment its response is handed to the socket. Time spent
waiting on a client (its head, its body, reading its response, a LiveQuery socket it never
reads) is never counted, so `drain` (SIGTERM) waits for the server's own work and not for
idle or stalled clients.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Awaitable, Callable, Iterator

import trio

GRACE = 2.0  # after SIGTERM, how long clients get to finish what they are sending or reading
DELIVERY = 1.0  # after the last request the server worked on is answered, time for it to leave
LONGEST_REQUEST = 30.0  # the longest a request in progress at SIGTERM is waited for

Asgi = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def _socket_of(stream: Any) -> Any:
    sock = getattr(stream, "socket", None)
    if sock is None:  # TLS: the socket is under the SSL stream
        sock = getattr(getattr(stream, "transport_stream", None), "socket", None)
    return sock


class Connection:
    """One client connection. `close` ends every wait on its socket at once, shielded or not
    (hypercorn shields its writes; a client that never reads would otherwise hold them)."""

    __slots__ = ("_stream", "scope", "idle")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.scope = trio.CancelScope()
        self.idle = False  # no request begun: closed as soon as shutdown starts

    def close(self) -> None:
        self.scope.cancel()
        sock = _socket_of(self._stream)
        if sock is not None:
            sock.close()  # trio wakes every task waiting on it with ClosedResourceError


class Connections:
    """Every open connection of this process and the number of requests being worked on."""

    def __init__(self) -> None:
        self._open: set[Connection] = set()
        self._none_open = trio.Event()
        self._none_open.set()
        self._working = 0
        self._not_working = trio.Event()
        self._not_working.set()
        self.draining = False

    def __len__(self) -> int:
        return len(self._open)

    @property
    def working(self) -> int:
        """Requests received whole and not yet answered."""
        return self._working

    @contextmanager
    def track(self, stream: Any) -> Iterator[Connection]:
        """Register a connection while the block runs; its `scope` is entered here."""
        conn = Connection(stream)
        if not self._open:
            self._none_open = trio.Event()
        self._open.add(conn)
        try:
            with conn.scope:
                yield conn
        finally:
            self._open.discard(conn)
            if not self._open:
                self._none_open.set()

    def requests(self, app: Asgi) -> Asgi:
        """`app`, counting each HTTP request from its last body byte to its response's."""

        async def counted(scope: dict, receive, send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            state = 0  # 0: receiving, 1: being worked on, 2: answered

            async def receive_counted() -> dict:
                nonlocal state
                message = await receive()
                if state == 0 and message["type"] == "http.request" and not message.get("more_body"):
                    state = 1
                    self._begin()
                return message

            async def send_counted(message: dict) -> None:
                nonlocal state
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    if state == 1:
                        self._end()
                    state = 2
                await send(message)

            try:
                await app(scope, receive_counted, send_counted)
            finally:
                if state == 1:
                    self._end()

        return counted

    def _begin(self) -> None:
        if self._working == 0:
            self._not_working = trio.Event()
        self._working += 1

    def _end(self) -> None:
        self._working -= 1
        if self._working == 0:
            self._not_working.set()

    async def drain(self, grace: float = GRACE, longest: float = LONGEST_REQUEST) -> None:
        """Shutdown's policy, once the listeners are closed: idle connections close at once;
        requests being worked on are answered (up to `longest`); clients get `grace` to finish
        sending or reading, and responses `DELIVERY` to leave; then every connection still open
        is closed. Returns when none is open: within grace + longest request + delivery."""
        self.draining = True
        for conn in list(self._open):
            if conn.idle:
                conn.close()
        deadline = trio.current_time() + grace
        with trio.move_on_after(longest):
            while True:
                with trio.move_on_at(deadline):
                    await self._none_open.wait()
                    return
                if self._working == 0:
                    break
                await self._not_working.wait()
                deadline = max(deadline, trio.current_time() + DELIVERY)
        for conn in list(self._open):
            conn.close()
        with trio.move_on_after(DELIVERY):  # their tasks see the closed socket and end
            await self._none_open.wait()
