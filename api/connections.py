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
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Iterator

import trio

GRACE = 2.0  # after SIGTERM, how long clients get to finish what they are sending or reading
DELIVERY = 1.0  # after the last request the server worked on is answered, time for it to leave
LONGEST_REQUEST = 30.0  # the longest a request in progress at SIGTERM is waited for

# The connection a task serves: hypercorn starts the app's task from the connection's own task,
# so the app sees the connection it runs for.
_current: ContextVar["Connection | None"] = ContextVar("parsnip_connection", default=None)

Asgi = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def _socket_of(stream: Any) -> Any:
    sock = getattr(stream, "socket", None)
    if sock is None:  # TLS: the socket is under the SSL stream
        sock = getattr(getattr(stream, "transport_stream", None), "socket", None)
    return sock


class Connection:
    """One client connection. `close` ends every wait on its socket at once, shielded or not
    (hypercorn shields its writes; a client that never reads would otherwise hold them)."""

    __slots__ = ("_stream", "scope", "idle_since", "working")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.scope = trio.CancelScope()
        # When it began waiting for its next request head (None: a request or a websocket is
        # under way); an idle connection is closed after the keep-alive timeout, or at shutdown.
        self.idle_since: float | None = trio.current_time()
        self.working = 0  # its requests received whole and not yet answered

    @property
    def idle(self) -> bool:
        return self.idle_since is not None

    def close(self) -> None:
        self.scope.cancel()
        sock = _socket_of(self._stream)
        if sock is not None:
            sock.close()  # trio wakes every task waiting on it with ClosedResourceError


def _streams(message: dict) -> bool:
    """A response of server-sent events (GET /changes) waits for events, as a LiveQuery socket
    does: once it starts, the server is not working on it, and a drain closes it."""
    return message["type"] == "http.response.start" and any(
        k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in message.get("headers", ()))


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

    @contextmanager
    def track(self, stream: Any) -> Iterator[Connection]:
        """Register a connection while the block runs; its `scope` is entered here."""
        conn = Connection(stream)
        if not self._open:
            self._none_open = trio.Event()
        self._open.add(conn)
        token = _current.set(conn)
        try:
            with conn.scope:
                yield conn
        finally:
            _current.reset(token)
            self._open.discard(conn)
            if not self._open:
                self._none_open.set()

    def requests(self, app: Asgi) -> Asgi:
        """`app`, counting each HTTP request from its last body byte to its response's."""

        async def counted(scope: dict, receive, send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            conn = _current.get()
            state = 0  # 0: receiving, 1: being worked on, 2: answered

            async def receive_counted() -> dict:
                nonlocal state
                message = await receive()
                if state == 0 and message["type"] == "http.request" and not message.get("more_body"):
                    state = 1
                    self.begin(conn)
                return message

            async def send_counted(message: dict) -> None:
                nonlocal state
                if (message["type"] == "http.response.body" and not message.get("more_body")) or _streams(message):
                    if state == 1:
                        self.end(conn)
                    state = 2
                await send(message)

            try:
                await app(scope, receive_counted, send_counted)
            finally:
                if state == 1:
                    self.end(conn)

        return counted

    def begin(self, conn: Connection | None) -> None:
        """A request on `conn` was received whole: the server works on it until `end`."""
        if conn is not None:
            conn.working += 1
        if self._working == 0:
            self._not_working = trio.Event()
        self._working += 1

    def end(self, conn: Connection | None) -> None:
        if conn is not None:
            conn.working -= 1
        self._working -= 1
        if self._working == 0:
            self._not_working.set()

    async def sweep(self, keep_alive: float, every: float = 0.5) -> None:
        """Close connections idle for longer than `keep_alive` (kept-alive connections between
        requests, and new ones whose request head is slow to come: slowloris), until cancelled.
        One task per process: hypercorn's own timer costs a task start and cancel per response."""
        while True:
            await trio.sleep(every)
            oldest = trio.current_time() - keep_alive
            self._close(lambda conn: conn.idle_since is not None and conn.idle_since < oldest)

    def turned(self, conn: Connection, idle: bool) -> None:
        """`conn` began waiting for its next request head (`idle`) or began one. Once draining,
        a connection that turns idle is closed at once, like those idle when the drain began
        (a client that read its answer a moment before SIGTERM is not made to wait the grace)."""
        conn.idle_since = trio.current_time() if idle else None
        if idle and self.draining:
            conn.close()

    def _close(self, which: Callable[[Connection], bool]) -> None:
        for conn in list(self._open):
            if which(conn):
                conn.close()

    async def drain(self, grace: float = GRACE, longest: float = LONGEST_REQUEST) -> None:
        """Shutdown's policy, once the listeners are closed. Idle connections close at once.
        Clients get `grace` to finish sending a request or reading an answer; then every
        connection the server is not working on is closed (a slow or stalled client, a
        LiveQuery socket). Requests being worked on are answered (waited for up to `longest`)
        and their responses get `DELIVERY` to leave; then whatever is open is closed.
        Returns when no connection is open: within max(grace, longest request + DELIVERY)."""
        self.draining = True
        started = trio.current_time()
        self._close(lambda conn: conn.idle)
        with trio.move_on_after(grace):
            await self._none_open.wait()
            return
        self._close(lambda conn: conn.working == 0)
        with trio.move_on_at(started + longest):
            while True:
                await self._not_working.wait()
                with trio.move_on_after(DELIVERY):
                    await self._none_open.wait()
                    return
                if self._working == 0:
                    break
        self._close(lambda conn: True)
        with trio.move_on_after(DELIVERY):  # their tasks see the closed socket and end
            await self._none_open.wait()
