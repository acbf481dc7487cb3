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

import base64
import hashlib
import os
import socket
import struct
from collections import deque
from typing import Any, Awaitable, Callable, Protocol, Sequence

import trio
import wsproto
from wsproto.events import CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20  # a client message larger than this closes the connection (1009)
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


class ProtocolError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept answer to a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + _GUID).digest()).decode("ascii")


def handshake_response(key: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode("ascii")


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One unmasked, final frame (servers never mask)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


class FrameReader:
    """Client frames in, whole messages out: unmasks, joins fragments, checks the rules."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._size = 0
        self._opcode: int | None = None
        self._max = max_message

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        buf = self._buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise ProtocolError(1002, "reserved bits set")
            if not b1 & 0x80:
                raise ProtocolError(1002, "client frames must be masked")
            fin, opcode, n, pos = b0 & 0x80, b0 & 0x0F, b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, pos = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
            if n > self._max or self._size + n > self._max:
                raise ProtocolError(1009, "message too big")
            if len(buf) < pos + 4 + n:
                break
            mask = bytes(buf[pos:pos + 4])
            payload = _unmask(bytes(buf[pos + 4:pos + 4 + n]), mask)
            del buf[:pos + 4 + n]
            if opcode >= 0x8:
                if not fin or n > 125:
                    raise ProtocolError(1002, "bad control frame")
                out.append((opcode, payload))
                continue
            if opcode == 0:
                if self._opcode is None:
                    raise ProtocolError(1002, "continuation without a message")
            elif self._opcode is not None:
                raise ProtocolError(1002, "new message inside a fragmented one")
            else:
                self._opcode = opcode
            self._parts.append(payload)
            self._size += n
            if fin:
                out.append((self._opcode, b"".join(self._parts)))
                self._parts, self._size, self._opcode = [], 0, None
        return out


def _unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class _OwnCodec:
    """Our own RFC 6455 framing (FrameReader in, frame() out)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._reader = FrameReader(max_message)

    def feed(self, data: bytes) -> list[tuple[int, bytes | str]]:
        return self._reader.feed(data)

    def messages(self, texts: Sequence[str]) -> bytes:
        return b"".join(frame(t.encode("utf-8")) for t in texts)

    def control(self, opcode: int, payload: bytes = b"") -> bytes:
        return frame(payload, opcode)

    def close(self, code: int, reason: str) -> bytes:
        return frame(struct.pack("!H", code) + reason.encode()[:120], CLOSE)


class WsprotoReader:
    """Client frames in, whole messages out, on the sans-IO `wsproto`: it unmasks and checks
    the rules; we join a message's parts and bound its size (wsproto hands over a frame's
    payload as it arrives, so a huge frame is refused before it is held)."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.ws = wsproto.Connection(wsproto.ConnectionType.SERVER)
        self._parts: list[Any] = []
        self._size = 0
        self._max = max_message

    def feed(self, data: bytes) -> list[tuple[int, bytes | str]]:
        ws = self.ws
        try:
            ws.receive_data(data)
        except LocalProtocolError:  # fed after the close: nothing more is read
            return [(CLOSE, b"")]
        out: list[tuple[int, bytes | str]] = []
        for event in ws.events():
            if isinstance(event, Message):
                self._size += len(event.data)  # text counts characters: never more than its bytes
                if self._size > self._max:
                    raise ProtocolError(1009, "message too big")
                self._parts.append(event.data)
                if event.message_finished:
                    joined = "".join(self._parts) if isinstance(event, TextMessage) else b"".join(self._parts)
                    out.append((TEXT if isinstance(event, TextMessage) else BINARY, joined))
                    self._parts, self._size = [], 0
            elif isinstance(event, Ping):
                out.append((PING, bytes(event.payload)))
            elif isinstance(event, Pong):
                out.append((PONG, bytes(event.payload)))
            elif isinstance(event, CloseConnection):
                if ws.state is wsproto.ConnectionState.OPEN:  # a parse failure, not the client's close
                    raise ProtocolError(event.code, event.reason or "protocol error")
                out.append((CLOSE, b""))
        return out


class _WsprotoCodec(WsprotoReader):
    def messages(self, texts: Sequence[str]) -> bytes:
        send = self.ws.send
        try:
            return b"".join([send(TextMessage(data=t)) for t in texts])
        except LocalProtocolError:  # the closing handshake has begun
            raise trio.BrokenResourceError from None

    def control(self, opcode: int, payload: bytes = b"") -> bytes:
        try:
            return self.ws.send(Ping(payload) if opcode == PING else Pong(payload))
        except LocalProtocolError:
            raise trio.BrokenResourceError from None

    def close(self, code: int, reason: str) -> bytes:
        try:
            return self.ws.send(CloseConnection(code, reason))
        except LocalProtocolError:
            return b""


_CODEC = _WsprotoCodec if os.environ.get("PARSNIP_WS_FRAMING", "wsproto") == "wsproto" else _OwnCodec


class RawTransport:
    """A websocket on a trio stream whose handshake has been answered."""

    def __init__(self, stream: trio.abc.Stream, leftover: bytes = b"", write_timeout: float = 10.0) -> None:
        self._stream = stream
        self._reader = _CODEC()
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
                if isinstance(payload, str):
                    return payload
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
                    await self._send_raw(self._reader.control(PONG, pong))
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
        await self._send_raw(self._reader.messages(texts))

    async def ping(self) -> None:
        self.alive = False
        await self._send_raw(self._reader.control(PING))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame if the socket can still take one (within CLOSE_TIMEOUT), then
        close the socket; safe to call more than once."""
        self._closed = True
        if not self._close_sent and not self._torn:
            self._close_sent = True
            with trio.move_on_after(CLOSE_TIMEOUT):
                try:
                    await self._send_raw(self._reader.close(code, reason))
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
