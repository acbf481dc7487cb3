"""The listener's own HTTP/1.1 path (api/fastpath.py) on a real process and raw sockets: plain
requests are answered on the connection (pipelined, kept alive, a body in pieces), HTTP's rules
for closing are kept, and the first request it does not take (chunked, malformed) hands the
connection to hypercorn, which answers that one and every later one as before. Answers from
hypercorn carry its `server` header; the fast path's carry none, which tells them apart."""

from __future__ import annotations

import json
import secrets
import socket
import time

import pytest

from parsnip.api.fastpath import parse_head
from tests.api.fault_helpers import raw_connection, wait_closed
from tests.conftest import _admin_sql, _with_database, start_server, stop_server


@pytest.fixture(scope="module")
def server(admin_dsn: str):
    name = "parsnip_fp_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Reader:
    """Answers read off a raw socket, one at a time, framed by their Content-Length."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        sock.settimeout(10)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def answer(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


def _request(server, method: str, path: str, body: bytes | None = None, extra: str = "",
             version: str = "1.1") -> bytes:
    head = f"{method} /parse{path} HTTP/{version}\r\nHost: x\r\nX-Parse-Application-Id: {server.app_id}\r\n{extra}"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


def _open(server) -> tuple[socket.socket, Reader]:
    s = raw_connection(server.url)
    return s, Reader(s)


def test_pipelined_requests_are_answered_in_order_in_one_connection(server):
    s, r = _open(server)
    with s:
        s.sendall(_request(server, "GET", "/health") + _request(server, "POST", "/classes/Pipe", b'{"n":1}')
                  + _request(server, "HEAD", "/health") + _request(server, "GET", "/classes/Pipe"))
        assert r.answer()[0] == 200
        status, headers, body = r.answer()
        assert status == 201 and "server" not in headers  # the fast path's
        oid = json.loads(body)["objectId"]
        status, headers, body = r.answer(head_only=True)
        assert status == 200 and headers["content-length"] == "15"
        status, _, body = r.answer()
        assert status == 200 and [o["objectId"] for o in json.loads(body)["results"]] == [oid]
        # kept alive: the same connection carries another request later
        s.sendall(_request(server, "GET", "/health"))
        assert r.answer()[2] == b'{"status":"ok"}'


def test_a_body_split_across_packets_is_read_whole(server):
    s, r = _open(server)
    with s:
        data = _request(server, "POST", "/classes/Split", b'{"text":"' + b"x" * 5000 + b'"}')
        for i in range(0, len(data), 700):
            s.sendall(data[i:i + 700])
            time.sleep(0.02)
        status, _, body = r.answer()
        assert status == 201 and "objectId" in json.loads(body)


def test_connection_close_and_http_1_0_end_the_connection_after_the_answer(server):
    for data in (_request(server, "GET", "/health", extra="Connection: close\r\n"),
                 _request(server, "GET", "/health", version="1.0")):
        s, r = _open(server)
        with s:
            s.sendall(data)
            status, headers, _ = r.answer()
            assert status == 200 and headers["connection"] == "close"
            assert wait_closed(s, 2)


def test_a_chunked_request_after_plain_ones_goes_to_hypercorn_with_the_rest_of_the_connection(server):
    chunked = (f"POST /parse/classes/Chunk HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {server.app_id}\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               "4\r\n{\"n\"\r\n3\r\n:2}\r\n0\r\n\r\n").encode()
    s, r = _open(server)
    with s:
        s.sendall(_request(server, "POST", "/classes/Chunk", b'{"n":1}') + chunked)
        status, headers, _ = r.answer()
        assert status == 201 and "server" not in headers
        status, headers, body = r.answer()
        assert status == 201 and headers.get("server", "").startswith("hypercorn")
        s.sendall(_request(server, "GET", "/classes/Chunk", extra="X-Parse-Master-Key: %s\r\n" % server.master_key))
        status, headers, body = r.answer()
        assert headers.get("server", "").startswith("hypercorn")  # hypercorn's for good
        assert sorted(o["n"] for o in json.loads(body)["results"]) == [1, 2]


@pytest.mark.parametrize("bad", [
    b"GET /parse/health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET /parse/health HTTP/1.1\r\nX-No-Host: 1\r\n\r\n",
    b"GET /parse/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET /parse/health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
])
def test_a_malformed_head_after_a_plain_request_gets_hypercorns_400(server, bad):
    s, r = _open(server)
    with s:
        s.sendall(_request(server, "GET", "/health") + bad)
        assert r.answer()[0] == 200
        status, headers, _ = r.answer()
        assert status == 400 and headers.get("server", "").startswith("hypercorn")
    assert server.process.poll() is None


def test_a_body_over_the_limit_gets_413_from_hypercorn(server):
    s, r = _open(server)
    with s:
        s.sendall(f"POST /parse/classes/Big HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {server.app_id}\r\n"
                  f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode() + b"{" * 1000)
        status, headers, body = r.answer()
        assert status == 413 and json.loads(body) == {"error": "request entity too large"}


def test_fast_path_requests_are_counted_in_the_metrics_with_their_route(server):
    s, r = _open(server)
    with s:
        s.sendall(_request(server, "GET", "/classes/Metered/nosuchid"))
        assert r.answer()[0] == 404
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = r.answer()
    assert status == 200
    lines = [line for line in body.decode().splitlines() if line.startswith("parsnip_http_request_duration_seconds_count")
             and 'route="/classes/:className/:objectId"' in line and 'status="404"' in line]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 1


def test_parse_head_takes_only_plain_requests():
    plain = parse_head(b"POST /parse/x?a=1 HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 3\r\nX-A:  v v \r\nConnection: close", 10)
    assert plain is not None and plain.method == "POST" and plain.length == 3 and plain.close
    assert plain.headers["x-a"] == "v v" and plain.headers.get("Content-Length") == "3"
    assert parse_head(b"GET / HTTP/1.0", 10).close
    for head in (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11",  # past the limit
                 b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked",
                 b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket",
                 b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue",
                 b"GET http://x/ HTTP/1.1\r\nHost: x", b"GET /a//b HTTP/1.1\r\nHost: x",
                 b"GET /\xff HTTP/1.1\r\nHost: x", b"BREW / HTTP/1.1\r\nHost: x", b"GET / HTTP/2.0\r\nHost: x",
                 b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b", b"GET / HTTP/1.1\r\nHost: x\r\n Folded: v"):
        assert parse_head(head, 10) is None, head
