"""WebSocket transports for LiveQuery connections.

`RawTransport` speaks RFC 6455 itself on the server's own socket: every message waiting for a
client goes out in one write (a broadcast to a connection's hundred subscriptions is one
syscall, not a hundred trips through an ASGI server, which measured about 50 us per message).
`AsgiTransport` is the same interface over ASGI's websocket messages, for Parsnip mounted
inside another ASGI application. Both are used by `livequery/connection.py` alone.

Every write is bounded in time: a write that makes no progress for `write_timeout` seconds (a
client that stopped reading, its TCP window full; progress is counted in pieces of 64 KiB)
fails with `Stalled`, and no later frame is written on that socket, which is reset when
closed; a close frame gets at most `CLOSE_TIMEOUT`. So no client can hold a task
of the server, or its shutdown, for longer than that.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from typing import Any, Awaitable, Callable, Protocol, Sequence

import trio

from parsnip.livequery.framing import (
    BINARY, CLOSE, PING, PONG, TEXT, FrameReader, ProtocolError, frame,
)

CLOSE_TIMEOUT = 1.0  # seconds a close frame may take to go out before the socket is just closed
_CHUNK = 1 << 16  # a write's progress is checked every this many bytes


class Transport(Protocol):
    async def receive(self) -> str | None:
        """The next text message, or None once the client has gone."""

    async def send_many(self, texts: Sequence[str]) -> None:
        """Send messages in order (raises trio.BrokenResourceError once the client has gone)."""

    async def ping(self) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    alive: bool  # a pong (or any message) arrived since the last ping
    sending: bool  # a write is in progress (a ping now would only queue behind it)
    write_timeout: float  # seconds a write may make no progress before it fails with Stalled


class Stalled(trio.BrokenResourceError):
    """A write made no progress for the write timeout: the client stopped reading."""


class RawTransport:
    """A websocket on a trio stream whose handshake has been answered."""

    def __init__(self, stream: trio.abc.Stream, leftover: bytes = b"", write_timeout: float = 10.0) -> None:
        self._stream = stream
        self._reader = FrameReader()
        self._ready: deque[tuple[int, bytes]] = deque()
        self._leftover = leftover
        self._lock = trio.Lock()
        self.write_timeout = write_timeout
        self._closed = False  # nothing more is read
        self._close_sent = False
        self._torn = False  # a write stopped mid-frame: nothing more may be written
        self._pong: bytes | None = None
        self.alive = True

    @property
    def sending(self) -> bool:
        return self._lock.locked()

    async def receive(self) -> str | None:
        while True:
            while self._ready:
                opcode, payload = self._ready.popleft()
                self.alive = True
                if opcode == TEXT or opcode == BINARY:
                    try:
                        return payload.decode("utf-8")
                    except UnicodeDecodeError:
                        await self.close(1007, "invalid UTF-8")
                        return None
                if opcode == PING:
                    self._pong = payload  # answering the latest of several pings is enough (RFC 6455 5.5.3)
                elif opcode == CLOSE:
                    await self.close(1000)
                    return None
            if self._pong is not None:
                pong, self._pong = self._pong, None
                try:
                    await self._send_raw(frame(pong, PONG))
                except trio.BrokenResourceError:
                    self._closed = True
                    return None
            if self._closed:
                return None
            if self._leftover:
                data, self._leftover = self._leftover, b""
            else:
                try:
                    data = await self._stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
            if not data:
                self._closed = True
                return None
            try:
                self._ready.extend(self._reader.feed(data))
            except ProtocolError as e:
                await self.close(e.code, str(e))
                return None

    async def send_many(self, texts: Sequence[str]) -> None:
        await self._send_raw(b"".join(frame(t.encode("utf-8")) for t in texts))

    async def ping(self) -> None:
        self.alive = False
        await self._send_raw(frame(b"", PING))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame if the socket can still take one (within CLOSE_TIMEOUT), then
        close the socket; safe to call more than once."""
        self._closed = True
        if not self._close_sent and not self._torn:
            self._close_sent = True
            with trio.move_on_after(CLOSE_TIMEOUT):
                try:
                    await self._send_raw(frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE))
                except trio.BrokenResourceError:
                    pass
        if self._torn:
            _abort(self._stream)
        with trio.move_on_after(1) as scope:
            scope.shield = True
            try:
                await self._stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def _send_raw(self, data: bytes) -> None:
        """Write `data` whole; Stalled when no chunk of it gets out within the write timeout."""
        async with self._lock:
            if self._torn:
                raise trio.BrokenResourceError
            view = memoryview(data)
            done = False
            try:
                for start in range(0, len(view), _CHUNK):
                    with trio.move_on_after(self.write_timeout):
                        await self._stream.send_all(view[start:start + _CHUNK])
                        continue
                    raise Stalled(f"no progress writing for {self.write_timeout:g} s")
                done = True
            except trio.ClosedResourceError:
                raise trio.BrokenResourceError from None
            finally:
                if not done:  # cut off (timeout, cancellation, error) mid-frame
                    self._torn = True


def _abort(stream: trio.abc.Stream) -> None:
    """Make closing the socket reset it, so the kernel drops what it still holds for a client
    that stopped reading instead of retrying it for minutes."""
    sock = getattr(stream, "socket", None)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (AttributeError, OSError):
        pass


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiTransport:
    """The same over an ASGI server's websocket (accepted already); pings are the host's job."""

    def __init__(self, receive: Receive, send: Send, write_timeout: float = 10.0) -> None:
        self._receive, self._send = receive, send
        self.write_timeout = write_timeout
        self._closed = False
        self._sending = 0
        self.alive = True

    @property
    def sending(self) -> bool:
        return self._sending > 0

    async def receive(self) -> str | None:
        while not self._closed:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._closed = True
                return None
            if message["type"] == "websocket.receive":
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    try:
                        text = message["bytes"].decode("utf-8")
                    except UnicodeDecodeError:
                        await self.close(1007)
                        return None
                if text is not None:
                    return text
        return None

    async def send_many(self, texts: Sequence[str]) -> None:
        if self._closed:
            raise trio.BrokenResourceError
        self._sending += 1
        try:
            for text in texts:
                with trio.move_on_after(self.write_timeout):
                    try:
                        await self._send({"type": "websocket.send", "text": text})
                    except Exception:  # the host raises its own errors once the client has gone
                        self._closed = True
                        raise trio.BrokenResourceError from None
                    continue
                self._closed = True
                raise Stalled(f"no progress writing for {self.write_timeout:g} s")
        finally:
            self._sending -= 1

    async def ping(self) -> None:
        self.alive = True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            with trio.move_on_after(CLOSE_TIMEOUT):
                try:
                    await self._send({"type": "websocket.close", "code": code, "reason": reason})
                except Exception:
                    pass
