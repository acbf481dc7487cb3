"""The listener's own HTTP/1.1 path: plain requests served on the connection without hypercorn
or Quart, which cost most of a request's CPU (ARCHITECTURE.md, "Decisions and their figures").

A request is plain when its head is HTTP/1.1 (or 1.0) in the usual form — a method the app
serves, an origin-form target of printable ASCII, well-formed header lines, a Host (1.1), no
Upgrade, Transfer-Encoding or Expect, at most one Content-Length within `max_body_bytes` — and
it neither streams (an upload, a download, server-sent events: `dispatch.streams`) nor asks for
/metrics. Its body is read whole, the dispatcher (`api/dispatch.py`) answers, and head and
body leave in one `send_all`. The first request that is not plain hands the connection, with
the bytes already read, to hypercorn for the rest of its life: hypercorn keeps answering what
it answers today (400, 431, 413, chunked bodies, streams, websockets without LiveQuery).

What hypercorn's path gives each request, this one gives too: the request id and metrics
(`observe.Observer`), the request counted as work from its last body byte to its answer
(`Connections.begin/end`, for the drain), the keep-alive sweep (`Connections.turned`), the
body's time limits (408) and a JSON 500 for anything that escapes the dispatcher.
"""

from __future__ import annotations

import logging
import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import unquote

import trio

from parsnip.api.connections import Connection, Connections
from parsnip.api.dispatch import INTERNAL_ERROR, JSON, Dispatcher, streams
from parsnip.api.errors import log_failure, request_id
from parsnip.api.http import Headers, HttpRequest, HttpResponse, WholeBody, query_args
from parsnip.api.observe import Observer
from parsnip.api.request import BodyTimeout, read_body

logger = logging.getLogger("parsnip.listener")

MAX_HEAD = 65536  # as the listener's first read; a longer head goes to hypercorn (431)

_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|DELETE|OPTIONS|PATCH|HEAD) (/[\x21-\x7e]*) HTTP/1\.([01])")
_HEADER_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*((?:[\x21-\x7e\x80-\xff][\x20-\x7e\x80-\xff\t]*)?)")
_REFUSED = ("transfer-encoding", "upgrade", "expect")
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


class Head(NamedTuple):
    method: str
    target: bytes
    headers: Headers
    length: int
    close: bool  # the client asks that the connection end after this answer


def parse_head(head: bytes, max_body: int) -> Head | None:
    """The head (without its blank line) of a plain request, or None: not plain, or malformed
    (hypercorn answers those)."""
    lines = head.split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None or b"//" in line[2]:  # werkzeug's routing redirects merged slashes
        return None
    pairs = []
    for raw in lines[1:]:
        header = _HEADER_LINE.fullmatch(raw)
        if header is None:
            return None
        pairs.append((header[1].decode("ascii").lower(), header[2].rstrip(b" \t").decode("latin-1")))
    headers = Headers(pairs)
    if any(name in headers for name in _REFUSED):
        return None
    http10 = line[3] == b"0"
    if not http10 and sum(1 for name, _ in pairs if name == "host") != 1:
        return None  # h11's 400
    length = 0
    if "content-length" in headers:
        value = headers["content-length"]
        if not value.isdigit() or len(value) > 15 or sum(1 for name, _ in pairs if name == "content-length") != 1:
            return None
        length = int(value)
        if length > max_body:
            return None  # Quart's 413
    tokens = headers.get("connection", "").lower()
    return Head(line[1].decode(), line[2], headers, length, http10 or "close" in tokens)


class FastPath:
    """Serves a connection's plain requests; `serve` returns the bytes to hand to hypercorn
    with the connection, or None when the connection is done."""

    def __init__(self, dispatcher: Dispatcher, observer: Observer, connections: Connections) -> None:
        self._dispatch = dispatcher
        self._observer = observer
        self._connections = connections
        config = dispatcher.config
        self._config = config
        self._max_body = config.max_body_bytes
        self._date = (0, b"")

    async def serve(self, stream, conn: Connection, data: bytes, peer: str | None) -> bytes | None:
        buf = bytearray(data)
        connections = self._connections
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    if len(buf) >= MAX_HEAD:
                        return bytes(buf)
                    more = await stream.receive_some(65536)
                    if not more:  # the client is done: a partial head is hypercorn's 400
                        return bytes(buf) if buf else None
                    start = max(0, len(buf) - 3)
                    buf += more
                    end = buf.find(b"\r\n\r\n", start)
                head = parse_head(bytes(buf[:end]), self._max_body)
                if head is None or self._elsewhere(head):
                    conn.idle_since = None
                    return bytes(buf)
                connections.turned(conn, False)
                del buf[:end + 4]
                if not await self._one(stream, conn, head, buf, peer) or head.close:
                    await stream.aclose()
                    return None
                connections.turned(conn, True)  # during a drain this closes the connection
                if connections.draining:  # and a request already read waits for no answer
                    return None
        except (trio.BrokenResourceError, trio.ClosedResourceError, _ClientGone):
            return None

    def _elsewhere(self, head: Head) -> bool:
        """Whether hypercorn takes this request: it streams, it is a scrape of /metrics, or its
        path holds a control character (Quart's routing answers those)."""
        raw = head.target.partition(b"?")[0]
        if raw.endswith(b"/metrics") or b"%0" in raw.upper():
            return True  # a scrape; a control character, which werkzeug's routing never matches
        if head.method not in ("GET", "HEAD", "POST"):
            return False
        return streams(self._config, head.method, unquote(raw.decode("ascii")), head.headers.get("accept"))

    async def _one(self, stream, conn: Connection, head: Head, buf: bytearray, peer: str | None) -> bool:
        """Answer one request; False when the connection must close after it."""
        raw_path, _, query = head.target.partition(b"?")
        path = unquote(raw_path.decode("ascii"))
        headers = head.headers
        method = head.method
        head_only = method == "HEAD"
        working = False
        with self._observer.request(method, path, headers.get("x-parse-request-id")) as seen:
            try:
                try:
                    body = await self._body(stream, buf, head.length)
                except BodyTimeout as err:
                    answer = self._dispatch.error(err, method, path, headers)
                else:
                    self._connections.begin(conn)
                    working = True
                    request = HttpRequest(method, path, raw_path, query_args(query.decode("ascii")) if query else {},
                                          headers, peer, WholeBody(body))
                    answer = await self._answer(request)
                if answer.stream is not None:
                    seen.status = answer.status
                    if working and (answer.content_type or "").startswith("text/event-stream"):
                        working = False  # waits for events from now on, as api/connections.py counts it
                        self._connections.end(conn)
                    await self._stream(stream, answer, head_only)
                    return False
                try:
                    data, keep = self._encode(answer, head_only, head.close)
                except Exception as err:  # a header that cannot be sent: what Quart's Response refuses
                    answer = self._internal(err, method, path, headers)
                    data, keep = self._encode(answer, False, True)
                seen.status = answer.status
                await stream.send_all(data)
                return keep
            finally:
                if working:
                    self._connections.end(conn)

    @staticmethod
    async def _body(stream, buf: bytearray, length: int) -> bytes:
        """The request's body of `length` bytes. Small bodies are nearly always read already
        with the head; only one still arriving is awaited, under read_body's timeouts."""
        if len(buf) >= length:
            body = bytes(buf[:length])
            del buf[:length]
            return body
        return await read_body(_BodyReader(stream, buf, length))

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self._dispatch(request)
        except Exception as err:  # the last boundary, as api/app.py's `_guarded`: a JSON 500
            return self._internal(err, request.method, request.path, request.headers)

    @staticmethod
    def _internal(err: Exception, method: str, path: str, headers: Headers) -> HttpResponse:
        log_failure(err, method, path, request_id(headers))
        return HttpResponse(500, {"Connection": "close"}, INTERNAL_ERROR, JSON)

    def _encode(self, answer: HttpResponse, head_only: bool, close: bool,
                length: bool = True) -> tuple[bytes, bool]:
        """The answer's head and body as bytes, and whether the connection stays open."""
        out = [b"HTTP/1.1 %d %s\r\n" % (answer.status, _REASONS.get(answer.status, b""))]
        for name, value in answer.headers.items():
            if name.lower() == "connection":
                close = close or value.lower() == "close"
                continue
            if "\n" in value or "\r" in value:
                raise ValueError(f"header {name!r} holds a line break")
            out.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        if answer.content_type:
            out.append(b"content-type: %s\r\n" % answer.content_type.encode("latin-1"))
        if length:
            out.append(b"content-length: %d\r\n" % len(answer.body))
        out.append(b"date: %s\r\n" % self._now())
        if close:
            out.append(b"connection: close\r\n")
        out.append(b"\r\n")
        if not head_only:
            out.append(answer.body)
        return b"".join(out), not close

    async def _stream(self, stream, answer: HttpResponse, head_only: bool) -> None:
        """A streamed answer the head did not foresee (say, the JS SDK's POST with `_method`):
        sent as it comes, delimited by the connection's end."""
        data, _ = self._encode(answer, True, True, length=False)  # a download's own Content-Length, if any
        await stream.send_all(data)
        if not head_only:
            async for chunk in answer.stream:
                await stream.send_all(chunk)

    def _now(self) -> bytes:
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, formatdate(second, usegmt=True).encode())
        return self._date[1]


class _ClientGone(Exception):
    """The client ended the connection before its body was whole."""


class _BodyReader:
    """A body of `length` bytes: those already read first, then the socket, never past the
    body (the next pipelined request stays in `buf`)."""

    def __init__(self, stream, buf: bytearray, length: int) -> None:
        self._stream = stream
        self._buf = buf
        self._left = length

    async def __anext__(self) -> bytes:
        if self._left <= 0:
            raise StopAsyncIteration
        if self._buf:
            chunk = bytes(self._buf[:self._left])
            del self._buf[:self._left]
        else:
            chunk = await self._stream.receive_some(min(self._left, 65536))
            if not chunk:
                raise _ClientGone()
        self._left -= len(chunk)
        return chunk
