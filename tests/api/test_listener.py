"""The connection boundary (api/listener.py) with real processes: nothing a client sends on a
raw TCP connection ends the process or another client's session, a request head must arrive
within the keep-alive timeout, idle connections are closed, and slow ones never block new ones.
Each test runs against a server with LiveQuery off (hypercorn takes every connection) and one
with it on (the listener reads the first head itself)."""

from __future__ import annotations

import json
import os
import resource
import secrets
import socket
import struct
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsnip.api import listener
from tests.api.fault_helpers import kept_alive, raw_connection, wait_closed
from tests.livequery.live_helpers import client_frame
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

KEEP_ALIVE = 5.0  # api/server.py: hypercorn's keep_alive_timeout, and the listener's head timeout
SLACK = 3.0

_WS_HEAD = (b"GET /parse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

# Inputs that once ended a server, or that reach a distinct branch of hypercorn/h11/h2.
GARBAGE = {
    "random bytes": os.urandom(5000),
    "half a request head": b"GET /parse/health HTTP/1.1\r\nHost: x\r\n",
    "a 200 kB header": b"GET /parse/health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n",
    "20,000 headers": b"GET /parse/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(20_000)) + b"\r\n",
    "NUL in the method": b"G\x00T / HTTP/1.1\r\n\r\n",
    "bytes that are not UTF-8 in the path": b"GET /parse/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "a bad chunk size": b"POST /parse/classes/X HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "Content-Length and chunked": (b"POST /parse/classes/X HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "HTTP/2 preface then garbage": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(3000),
    "HTTP/2 preface, a settings frame, garbage": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                                  b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + os.urandom(3000)),
    "h2c upgrade then garbage": (b"GET /parse/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                 b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" + os.urandom(300)),
    # With LiveQuery off this went to hypercorn's websocket code: h11 raised LocalProtocolError
    # into the server's nursery and the process exited.
    "websocket upgrade then garbage": _WS_HEAD + os.urandom(5000),
    "websocket upgrade without a version then garbage": _WS_HEAD.replace(b"Sec-WebSocket-Version: 13\r\n", b"")
    + os.urandom(5000),
    "fifty pipelined requests then garbage": b"GET /parse/health HTTP/1.1\r\nHost: x\r\n\r\n" * 50 + os.urandom(100),
}


LIVEQUERY = ("--startLiveQueryServer", "--liveQuery", json.dumps({"classNames": ["Live"]}))


@pytest.fixture(scope="module")
def servers(admin_dsn: str):
    """The module's two servers, "http only" and "with LiveQuery", each started when first asked for."""
    started: dict = {}

    def get(kind: str):
        if kind not in started:
            name = "parsnip_li_" + secrets.token_hex(6)
            _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
            started[kind] = (name, start_server(_with_database(admin_dsn, name),
                                                *(LIVEQUERY if kind == "with LiveQuery" else ())))
        return started[kind][1]

    yield get
    for name, info in started.values():
        stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["http only", "with LiveQuery"])
def server(request, servers):
    return servers(request.param)


def _assert_serving(server) -> None:
    assert server.process.poll() is None, "the server process ended"
    r = httpx.get(server.url + "/health", timeout=5)
    assert r.status_code == 200


def _send(server, data: bytes, half_close: bool = True) -> None:
    s = raw_connection(server.url)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        wait_closed(s, 0.3)  # an answer, if any, is not what this checks
    except OSError:
        pass  # the server may reset a connection it refuses
    finally:
        s.close()


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_on_a_raw_connection_never_ends_the_process(server, name):
    _send(server, GARBAGE[name])
    _send(server, GARBAGE[name], half_close=False)
    _assert_serving(server)


_http_ish = st.lists(st.sampled_from([
    b"GET ", b"POST ", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"/parse/health", b" HTTP/1.1", b" HTTP/1.0",
    b"\r\n", b"\r\n\r\n", b"Host: x", b"Upgrade: websocket", b"Upgrade: h2c", b"Connection: Upgrade",
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", b"Sec-WebSocket-Version: 13", b"Content-Length: 3",
    b"Transfer-Encoding: chunked", b"0\r\n", b":", b"\x00", b"\xff", b"\x81\x85", b"\x88\x80",
]) | st.binary(max_size=64), max_size=30).map(b"".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_http_ish)
def test_generated_bytes_never_end_the_process(server, data):
    _send(server, data)
    assert server.process.poll() is None, f"the server process ended after {data!r}"


def test_slow_and_idle_connections_are_let_go_and_never_block_new_ones(server):
    """Slowloris: a request head must arrive whole within the keep-alive timeout, on a new
    connection and on a kept-alive one after its first request (here sent a byte every 0.5 s);
    an idle kept-alive connection is closed after that timeout; 300 such connections open at
    once do not delay a new request."""
    idle = kept_alive(server)
    kept = kept_alive(server)
    first = raw_connection(server.url)
    stop = threading.Event()

    def trickle(s: socket.socket) -> None:
        for byte in b"GET /parse/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            if stop.wait(0.5):
                return
            try:
                s.send(bytes([byte]))
            except OSError:
                return

    for s in (first, kept):
        threading.Thread(target=trickle, args=(s,), daemon=True).start()
    many = []
    try:
        for _ in range(300):
            s = raw_connection(server.url)
            s.sendall(b"GET /parse/health HTTP/1.1\r\nHost: x\r\n")
            many.append(s)
        started = time.monotonic()
        _assert_serving(server)
        assert time.monotonic() - started < 2.0
        deadline = started + KEEP_ALIVE + SLACK
        for s in [idle, kept, first, *many]:
            assert wait_closed(s, max(0.1, deadline - time.monotonic()))
    finally:
        stop.set()
        for s in many:
            s.close()


# -- LiveQuery connections -----------------------------------------------------------------

def _ws_connect(server) -> socket.socket:
    s = raw_connection(server.url)
    s.sendall(_WS_HEAD)
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(1)
        assert data
        head += data
    assert head.startswith(b"HTTP/1.1 101")
    return s


def _ws_messages(s: socket.socket, timeout: float):
    """Yield each text message the server sends on `s` until `timeout`."""
    s.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) < 2 or len(buf) < _frame_size(buf):
            data = s.recv(65536)
            if not data:
                return
            buf += data
        size = _frame_size(buf)
        frame, buf = buf[:size], buf[size:]
        length = frame[1] & 0x7F
        offset = 2 if length < 126 else 4 if length == 126 else 10
        if frame[0] & 0x0F == 1:
            yield json.loads(frame[offset:])


def _frame_size(buf: bytes) -> int:
    length = buf[1] & 0x7F
    if length < 126:
        return 2 + length
    if length == 126:
        return 4 + struct.unpack("!H", buf[2:4])[0] if len(buf) >= 4 else 1 << 30
    return 10 + struct.unpack("!Q", buf[2:10])[0] if len(buf) >= 10 else 1 << 30


def _nested_or(depth: int) -> dict:
    where: dict = {"a": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


# Each of these once ended the process (issue 10, item 1) from one frame, before any connect.
HOSTILE_FRAMES = {
    "2,000 nested arrays": "[" * 2000 + "]" * 2000,
    "a type that is an array": json.dumps({"op": "subscribe", "requestId": 1,
                                           "query": {"className": "Live", "where": {"a": [{"__type": []}]}}}),
    "$or 300 deep": json.dumps({"op": "subscribe", "requestId": 1,
                                "query": {"className": "Live", "where": _nested_or(300)}}),
}


@pytest.mark.parametrize("name", list(HOSTILE_FRAMES))
def test_a_hostile_websocket_frame_ends_at_most_its_own_connection(servers, name):
    server = servers("with LiveQuery")
    subscriber = _ws_connect(server)
    subscriber.sendall(client_frame(json.dumps({"op": "connect", "applicationId": server.app_id}).encode()))
    subscriber.sendall(client_frame(json.dumps({"op": "subscribe", "requestId": 7,
                                                "query": {"className": "Live", "where": {}}}).encode()))
    messages = _ws_messages(subscriber, 5)
    assert next(messages)["op"] == "connected"
    assert next(messages)["op"] == "subscribed"

    attacker = _ws_connect(server)
    attacker.sendall(client_frame(HOSTILE_FRAMES[name].encode()))
    wait_closed(attacker, 1)
    attacker.close()
    _assert_serving(server)

    created = httpx.post(server.url + "/classes/Live", json={"n": 1},
                         headers={"X-Parse-Application-Id": server.app_id}, timeout=10)
    assert created.status_code == 201
    event = next(messages)
    assert event["op"] == "create" and event["object"]["objectId"] == created.json()["objectId"]
    subscriber.close()


def test_connections_are_not_capped_by_a_low_soft_open_files_limit(fresh_dsn):
    """Started with a soft limit of 256 open files (a common default is 1,024), the server
    takes the hard limit, so 400 connections held open do not stop a new request."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.fail(f"this machine's hard limit of open files ({hard}) is too low for the test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        server = start_server(fresh_dsn)  # the child inherits the low soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    held = []
    try:
        for _ in range(400):
            s = raw_connection(server.url)
            s.sendall(b"GET /parse/health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        started = time.monotonic()
        _assert_serving(server)
        assert time.monotonic() - started < 2.0
    finally:
        for s in held:
            s.close()
        stop_server(server)


def test_the_hypercorn_internals_the_listener_relies_on_are_there():
    """`api/listener.py` replaces `hypercorn.trio.run.TCPServer` and subclasses it (its idle
    timer, its `protocol_send`, hypercorn's `Updated` events): a hypercorn that moved any of them
    must fail here by name, not as connections that never close."""
    import inspect

    from hypercorn.events import Updated
    from hypercorn.trio import run as hypercorn_run
    from hypercorn.trio.tcp_server import TCPServer

    assert hypercorn_run.TCPServer in (TCPServer, listener._Connection), "hypercorn.trio.run.TCPServer moved"
    assert "TCPServer" in inspect.getsource(hypercorn_run.worker_serve), "worker_serve no longer builds TCPServer"
    init = inspect.getsource(TCPServer.__init__)
    assert "self.idle_task" in init, "TCPServer has no idle_task any more"
    assert "idle_task.restart" in inspect.getsource(TCPServer.run)
    assert list(inspect.signature(TCPServer.__init__).parameters) == ["self", "app", "config", "context", "state", "stream"]
    assert "event" in inspect.signature(TCPServer.protocol_send).parameters
    assert Updated(idle=True).idle is True
