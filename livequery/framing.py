"""RFC 6455 framing, sans IO: the handshake's answer, server frames out, client frames in
(unmasked, joined, checked). Written here rather than taken from `wsproto`: measured on the
broadcast benchmark, wsproto's per-message framing doubled the server's CPU (20-24% against
47-51%, `benchmarks/README.md`), and a server frame is four lines.
"""

from __future__ import annotations

import base64
import hashlib
import struct

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 1 << 20  # a client message larger than this closes the connection (1009)


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
