"""One port for REST and LiveQuery, as Parse Server has, and the boundary of every connection.

Hypercorn builds one `TCPServer(app, config, context, state, stream)` per accepted connection
(`hypercorn.trio.run.worker_serve`); `install` replaces that name with `_Connection`, which
- registers the connection with `api/connections.py`, so shutdown can close what it must;
- reads the connection's first request head: a websocket upgrade goes to the LiveQuery handler
  (when one is set), plain HTTP/1.1 requests to the fast path (`api/fastpath.py`), which serves
  them on the connection itself; the first request it does not take goes to hypercorn, with
  the bytes already read put back in front, for the rest of the connection's life. LiveQuery
  needs the socket itself: writing a connection's waiting messages in one syscall is what lets
  one process deliver tens of thousands of events a second (`livequery/websocket.py`);
- contains failures: anything raised while serving the connection (the LiveQuery handler,
  hypercorn's protocol code) ends that connection with a log line. Raised into hypercorn's
  nursery, it would end the process and every other client's session.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import trio
from hypercorn.events import Updated
from hypercorn.trio import run as _hypercorn_run
from hypercorn.trio.tcp_server import TCPServer

from parsnip.api.connections import Connection, Connections
from parsnip.api.fastpath import MAX_HEAD, FastPath

logger = logging.getLogger("parsnip.listener")

WebsocketHandler = Callable[[trio.abc.Stream, dict[str, str], bytes, str | None], Awaitable[None]]

_MAX_HEAD = MAX_HEAD
_HEAD_TIMEOUT = 5.0  # as the keep-alive timeout (api/server.py): an idle new connection waits this long
_handler: WebsocketHandler | None = None
_fast: FastPath | None = None
_connections = Connections()


def install(handler: WebsocketHandler | None, connections: Connections, fast: FastPath | None = None) -> None:
    """Serve this process's hypercorn connections through `_Connection`: registered with
    `connections`, failures contained, websocket upgrades routed to `handler` (if any) and
    plain requests to `fast` (if any)."""
    global _handler, _connections, _fast
    _handler = handler
    _connections = connections
    _fast = fast
    _hypercorn_run.TCPServer = _Connection  # type: ignore[attr-defined]


class _TCPServer(TCPServer):
    """Hypercorn's connection, with its keep-alive timer replaced by `api/connections.py`.

    Hypercorn starts a timer task each time a connection turns idle and cancels it when the
    next request comes: a task start and a cancellation per response (and under quart-trio the
    task was started inside the app's cancelled scope, so it died at once and idle connections
    were never closed). Instead the connection
    records when it turned idle, and one task per process (`Connections.sweep`) closes those
    idle for longer than the keep-alive timeout."""

    def __init__(self, app, config, context, state, stream, conn: Connection) -> None:
        super().__init__(app, config, context, state, stream)
        self.idle_task = _NO_TIMER
        self._conn = conn

    async def protocol_send(self, event: Any) -> None:
        if isinstance(event, Updated):
            _connections.turned(self._conn, event.idle)
            return
        await super().protocol_send(event)


class _NoTimer:
    """Stands for hypercorn's idle timer (`TCPServer.idle_task`), which the sweep replaces."""

    async def restart(self, *_args: Any) -> None:
        pass

    async def stop(self) -> None:
        pass


_NO_TIMER = _NoTimer()


class _Connection:
    def __init__(self, app, config, context, state, stream) -> None:
        self._args = (app, config, context, state)
        self._stream = stream
        self._peer = _peer(stream)

    def __await__(self):
        return self.run().__await__()

    async def run(self) -> None:
        with _connections.track(self._stream) as conn:
            try:
                await self._serve(conn)
            except BaseException as exc:
                errors, others = _split(exc)
                if errors is not None:
                    logger.error("connection from %s failed; closed it", self._peer, exc_info=errors)
                if others is not None:
                    raise others from None
            finally:
                conn.close()

    async def _serve(self, conn: Connection) -> None:
        handler, fast = _handler, _fast
        if (handler is None and fast is None) or not hasattr(self._stream, "socket"):  # TLS: left to hypercorn
            await _TCPServer(*self._args, self._stream, conn)
            return
        if _connections.draining:
            return
        head = await _read_head(self._stream)
        if head is None:
            return
        upgrade = _websocket_upgrade(head) if handler is not None else None
        if upgrade is not None:
            conn.idle_since = None
            headers, rest = upgrade
            await handler(self._stream, headers, rest, self._peer)
            return
        if fast is not None:
            head = await fast.serve(self._stream, conn, head, self._peer)
            if head is None:
                return
        conn.idle_since = None
        await _TCPServer(*self._args, _Replay(self._stream, head), conn)


async def _read_head(stream) -> bytes | None:
    """The first request head and whatever came with it; None when the client sent no whole
    head within `_HEAD_TIMEOUT` (slowloris) or nothing at all. A head cut short by the
    client's end of stream, or too long, goes to hypercorn, which answers 400 or 431."""
    head = bytearray()  # appended to in place, searched from where the last piece ended
    with trio.move_on_after(_HEAD_TIMEOUT):
        while len(head) < _MAX_HEAD:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not data:
                return bytes(head) or None
            start = max(0, len(head) - 3)
            head += data
            if head.find(b"\r\n\r\n", start) >= 0:
                break
        return bytes(head)
    return None


def _split(exc: BaseException) -> tuple[BaseException | None, BaseException | None]:
    """(the errors to contain, what must go on propagating: cancellation, KeyboardInterrupt)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(Exception)
    if isinstance(exc, Exception):
        return exc, None
    return None, exc


def _peer(stream) -> str | None:
    try:
        return stream.socket.getpeername()[0]
    except (AttributeError, OSError):
        return None


def _websocket_upgrade(head: bytes) -> tuple[dict[str, str], bytes] | None:
    """(headers, bytes after the head) when `head` opens with a websocket upgrade request."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return None
    try:
        lines = head[:end].decode("latin-1").split("\r\n")
    except UnicodeDecodeError:
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "GET":
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket" or "sec-websocket-key" not in headers:
        return None
    headers[":path"] = parts[1]
    return headers, head[end + 4:]


class _Replay(trio.abc.HalfCloseableStream):
    """The connection's stream with the bytes already read put back in front (for hypercorn).
    It has no `do_handshake`: hypercorn takes that to mean plain TCP."""

    def __init__(self, stream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix
        self.socket = stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

