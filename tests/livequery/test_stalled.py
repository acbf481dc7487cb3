"""Clients that misbehave at the socket level: a ping flood then a reset, a client that stops
reading while the server fans out to it, and shutdown with such a client connected. Real
processes and real sockets (the kernel's windows do the stalling).
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import time

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.conftest import _admin_sql, _with_database, start_server, stop_server
from tests.livequery.conftest import WEBSOCKET_TIMEOUT
from tests.livequery.live_helpers import RawSocket, Rest, client_frame, connected, ws_url

_PING, _BLOB = 0x9, "x" * 60_000
_ESTABLISHED = 1  # Linux tcp_states.h


def _alive_and_serving(server) -> None:
    assert server.process.poll() is None, "the server process ended"
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


async def _stalled_subscriber(server, cls: str) -> RawSocket:
    """A client subscribed to `cls` that reads its two replies, then nothing ever again; its
    receive window is a few kilobytes."""
    raw = RawSocket(server, rcvbuf=4096)
    raw.send_text(json.dumps({"op": "connect", "applicationId": server.app_id}))
    raw.send_text(json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": cls, "where": {}}}))
    raw.sock.settimeout(5)
    seen = b""
    while seen.count(b'"op":') < 2:
        seen += raw.sock.recv(4096)
    assert b'"subscribed"' in seen
    return raw


async def _fan_out_a_lot(rest: Rest, cls: str, batches: int = 6) -> None:
    """About 18 MB of events: far more than the socket buffers between server and client."""
    for _ in range(batches):
        await rest.call("POST", "/batch", {"requests": [
            {"method": "POST", "path": f"/parse/classes/{cls}", "body": {"blob": _BLOB}} for _ in range(50)]},
            rest.master, 200)


def _closed_by_server(raw: RawSocket, seconds: float) -> bool:
    """Whether the server ended this connection within `seconds`, seen without reading (reading
    would unblock the server): the kernel's TCP state of our side leaves ESTABLISHED once the
    server resets it (a FIN would wait behind the unread data)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if raw.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] != _ESTABLISHED:
            return True
        time.sleep(0.05)
    return False


def test_a_ping_flood_then_a_reset_does_not_end_the_process(strict_server):
    """5,000 pings unread, then an abortive close while the server still owes pongs: the pong
    write failed with BrokenResourceError and ended the process."""
    for _ in range(3):
        raw = RawSocket(strict_server, rcvbuf=4096)
        raw.sock.sendall(b"".join(client_frame(b"p" * 125, _PING) for _ in range(5000)))
        raw.reset()
    time.sleep(0.5)
    _alive_and_serving(strict_server)


async def test_a_client_that_stops_reading_is_dropped_within_the_websocket_timeout(strict_server):
    rest = Rest(strict_server)
    cls = "Stall" + secrets.token_hex(3)
    raw = await _stalled_subscriber(strict_server, cls)
    async with open_websocket_url(ws_url(strict_server), max_message_size=1 << 24) as ws:
        reader = await connected(ws, strict_server)
        assert (await reader.subscribe(1, cls, {}))["op"] == "subscribed"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_fan_out_a_lot, rest, cls)
            # A client that reads gets every event meanwhile: the stalled one holds nobody up.
            with trio.fail_after(60):
                for _ in range(300):
                    assert (await reader.recv(30))["op"] == "create"
    # The stalled client's writes have made no progress for websocketTimeout: it is dropped.
    assert await trio.to_thread.run_sync(_closed_by_server, raw, WEBSOCKET_TIMEOUT * 2 + 2)
    raw.sock.close()
    _alive_and_serving(strict_server)


@pytest.fixture
def own_server(admin_dsn: str):
    """A server of this test's own, since the test stops it."""
    name = "parsnip_lqs_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--startLiveQueryServer",
                        "--liveQuery", json.dumps({"classNames": [".*"]}))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_shutdown_closes_every_live_query_connection_at_once_whatever_the_clients_do(own_server):
    """SIGTERM with a client that stopped reading mid fan-out (and one idle client): every
    websocket is closed within a second or two and the process ends; a stalled client used to
    keep it alive indefinitely."""
    rest = Rest(own_server)
    cls = "Stall" + secrets.token_hex(3)
    raw = await _stalled_subscriber(own_server, cls)
    async with open_websocket_url(ws_url(own_server)) as ws:
        idle = await connected(ws, own_server)
        assert (await idle.subscribe(1, "Elsewhere", {}))["op"] == "subscribed"
        await _fan_out_a_lot(rest, cls, batches=3)
        await trio.sleep(0.5)  # the server's sender is now blocked on the stalled socket
        own_server.process.send_signal(signal.SIGTERM)
        started = trio.current_time()
        with trio.fail_after(5):
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
        assert trio.current_time() - started < 3
        assert closed.value.reason.code == 1001
    exit_code = await trio.to_thread.run_sync(lambda: own_server.process.wait(timeout=15))
    assert exit_code == 0
    raw.sock.close()
