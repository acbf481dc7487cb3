"""One port for REST and LiveQuery, as Parse Server has: each new connection's first request
head is read here; a websocket upgrade goes to the LiveQuery server, everything else to
hypercorn with the bytes already read put back in front.

Hypercorn builds one `TCPServer(app, config, context, state, stream)` per accepted connection
(`hypercorn.trio.run.worker_serve`); `install` replaces that name with `_Sniffing`, which
passes every connection through unchanged unless a LiveQuery handler is set for the process.
LiveQuery needs the socket itself: writing a connection's waiting messages in one syscall is
what lets one process deliver tens of thousands of events a second (`livequery/websocket.py`).
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

import trio
from hypercorn.trio import run as _hypercorn_run
from hypercorn.trio.tcp_server import TCPServer

logger = logging.getLogger("parsnip.listener")

WebsocketHandler = Callable[[trio.abc.Stream, dict[str, str], bytes, str | None], Awaitable[None]]

_MAX_HEAD = 65536
_HEAD_TIMEOUT = 5.0  # as the keep-alive timeout (api/server.py): an idle new connection waits this long
_handler: WebsocketHandler | None = None


def install(handler: WebsocketHandler | None) -> None:
    """Route websocket upgrades on this process's hypercorn connections to `handler`."""
    global _handler
    _handler = handler
    _hypercorn_run.TCPServer = _Sniffing  # type: ignore[attr-defined]


class _Sniffing:
    def __init__(self, app, config, context, state, stream) -> None:
        self._args = (app, config, context, state)
        self._stream = stream

    def __await__(self):
        return self.run().__await__()

    async def run(self) -> None:
        handler = _handler
        if handler is None or not hasattr(self._stream, "socket"):  # TLS: left to hypercorn
            await TCPServer(*self._args, self._stream)
            return
        head = b""
        with trio.move_on_after(_HEAD_TIMEOUT):
            while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
                try:
                    data = await self._stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    break
                head += data
        if not head:
            await _close(self._stream)
            return
        upgrade = _websocket_upgrade(head)
        if upgrade is None:
            await TCPServer(*self._args, _Replay(self._stream, head))
            return
        headers, rest = upgrade
        client = None
        try:
            client = self._stream.socket.getpeername()[0]
        except OSError:
            pass
        await handler(self._stream, headers, rest, client)


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


async def _close(stream) -> None:
    with trio.CancelScope(shield=True):
        try:
            await stream.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
