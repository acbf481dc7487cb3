"""One port for REST and LiveQuery, as Parse Server has, and the boundary of every connection.

Hypercorn builds one `TCPServer(app, config, context, state, stream)` per accepted connection
(`hypercorn.trio.run.worker_serve`); `install` replaces that name with `_Connection`, which
- registers the connection with `api/connections.py`, so shutdown can close what it must;
- when a LiveQuery handler is set, reads the connection's first request head: a websocket
  upgrade goes to the handler, everything else to hypercorn with the bytes already read put
  back in front. LiveQuery needs the socket itself: writing a connection's waiting messages in
  one syscall is what lets one process deliver tens of thousands of events a second
  (`livequery/websocket.py`);
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

from api.connections import Connection, Connections

logger = logging.getLogger("parsnip.listener")

WebsocketHandler = Callable[[trio.abc.Stream, dict[str, str], bytes, str | None], Awaitable[None]]

_MAX_HEAD = 65536
_HEAD_TIMEOUT = 5.0  # as the keep-alive timeout (api/server.py): an idle new connection waits this long
_handler: WebsocketHandler | None = None
_connections = Connections()


def install(handler: WebsocketHandler | None, connections: Connections) -> None:
    """Serve this process's hypercorn connections through `_Connection`: registered with
    `connections`, failures contained, and websocket upgrades routed to `handler` (if any)."""
    global _handler, _connections
    _handler = handler
    _connections = connections
    _hypercorn_run.TCPServer = _Connection  # type: ignore[attr-defined]


class _TCPServer(TCPServer):
    """Hypercorn's connection, with its keep-alive timer kept alive.

    Hypercorn starts the timer with `nursery.start()` from the task that sends the response:
    under quart-trio that is the app's task, whose scope quart-trio cancels once the response
    is sent, and trio then leaves the new task in that cancelled scope: it dies at once, and an
    idle keep-alive connection was never closed, neither after `keep_alive_timeout` nor at
    shutdown (nor was a slow next request head). Shielded, the timer lands in the
    connection's own nursery as hypercorn meant.
    """

    async def protocol_send(self, event: Any) -> None:
        if isinstance(event, Updated) and event.idle:
            with trio.CancelScope(shield=True):
                await super().protocol_send(event)
        else:
            await super().protocol_send(event)


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
        handler = _handler
        if handler is None or not hasattr(self._stream, "socket"):  # TLS: left to hypercorn
            await _TCPServer(*self._args, self._stream)
            return
        if _connections.draining:
            return
        conn.idle = True
        head = await _read_head(self._stream)
        conn.idle = False
        if head is None:
            return
        upgrade = _websocket_upgrade(head)
        if upgrade is None:
            await _TCPServer(*self._args, _Replay(self._stream, head))
            return
        headers, rest = upgrade
        await handler(self._stream, headers, rest, self._peer)


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

