"""Graceful shutdown with real processes: SIGTERM finishes accepted writes and answers the
requests being worked on, then stops within GRACE + the longest of those requests, whatever
idle, slow or stalled clients do; no write is acknowledged and lost."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time

import asyncpg
import httpx

from parsnip.api.connections import DELIVERY, GRACE
from tests.api.fault_helpers import (WriteLoad, assert_log_holds, close_watch, kept_alive, log_state, query,
                                     raw_connection, stalled_subscriber, wait_closed)
from tests.conftest import start_server

# Seconds a loaded test machine may add to the bound, for process exit and scheduling.
SLACK = 3.0


def _sigterm(server) -> float:
    """SIGTERM the server; seconds until it exited (asserting exit code 0)."""
    start = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=60)
    elapsed = time.monotonic() - start
    assert code == 0
    return elapsed


def _slow_request(server, stop: threading.Event) -> socket.socket:
    """A client in the middle of a POST: its head and part of its body sent, then a byte
    every 0.3 s (until `stop`)."""
    s = raw_connection(server.url)
    s.sendall((f"POST /parse/classes/Slow HTTP/1.1\r\nHost: x\r\nX-Parse-Application-Id: {server.app_id}\r\n"
               "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"a\": \"").encode())

    def trickle() -> None:
        while not stop.wait(0.3):
            try:
                s.send(b"a")
            except OSError:
                return

    threading.Thread(target=trickle, daemon=True).start()
    return s


def test_sigterm_with_an_idle_keep_alive_connection_stops_at_once(fresh_dsn):
    server = start_server(fresh_dsn)
    idle = kept_alive(server)
    elapsed = _sigterm(server)
    # Nothing is being worked on: the idle connection is closed at once, not after a grace.
    assert elapsed < GRACE
    assert wait_closed(idle, 1)


def test_sigterm_under_load_with_idle_slow_and_stalled_clients(fresh_dsn):
    server = start_server(fresh_dsn, "--startLiveQueryServer", "--liveQuery", json.dumps({"classNames": ["Fat"]}))
    headers = {"X-Parse-Application-Id": server.app_id}
    stalled = stalled_subscriber(server.url, server.app_id, "Fat")
    # Fill the stalled client's window and the server's send buffer (4 MB at most here) twice over.
    fat = "x" * 40_000
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        for _ in range(250):
            assert client.post("/classes/Fat", json={"fat": fat}).status_code == 201
    idle = kept_alive(server)
    stop = threading.Event()
    slow = _slow_request(server, stop)
    load = WriteLoad(server.url, server.app_id, "Drain", threads=8).start()
    load.wait_acked(21)  # under way, whatever the machine's load
    time.sleep(0.5)

    elapsed = _sigterm(server)
    out = load.stop()
    stop.set()

    # The in-flight requests are creates (well under a second each): GRACE bounds the rest.
    assert elapsed < GRACE + DELIVERY + SLACK, f"shutdown took {elapsed:.1f} s"
    assert out.hung == 0, "a request got neither an answer nor a closed connection"
    assert len(out.acked) > 20
    for s in (stalled, idle, slow):
        assert wait_closed(s, 1)
    assert_log_holds(log_state(fresh_dsn, "Drain"), out)


def test_sigterm_answers_a_long_request_in_progress_and_cuts_a_slow_client(fresh_dsn):
    """A request the server is still working on after GRACE (a create waiting on a table lock
    this test holds for 4 s) is answered in full, and the process then stops at once; a client
    still sending its body is cut at GRACE meanwhile."""
    server = start_server(fresh_dsn)
    headers = {"X-Parse-Application-Id": server.app_id}
    assert httpx.post(server.url + "/classes/Locked", json={"n": 0}, headers=headers).status_code == 201
    locked, release = threading.Event(), threading.Event()
    threading.Thread(target=_hold_lock, args=(fresh_dsn, 'LOCK TABLE "p_Locked"', locked, release), daemon=True).start()
    assert locked.wait(10)
    answer: dict = {}

    def create() -> None:
        try:
            r = httpx.post(server.url + "/classes/Locked", json={"n": 1}, headers=headers, timeout=60)
            answer["status"], answer["at"] = r.status_code, time.monotonic()
        except httpx.HTTPError as e:
            answer["error"] = e

    stop = threading.Event()
    slow = _slow_request(server, stop)
    slow_closed = close_watch(slow)
    waiting = threading.Thread(target=create)
    waiting.start()
    time.sleep(0.5)
    sent = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    time.sleep(4.0)
    released = time.monotonic()
    release.set()
    code = server.process.wait(timeout=60)
    exited = time.monotonic()
    waiting.join()
    stop.set()

    assert code == 0
    assert answer.get("status") == 201, answer
    assert slow_closed["at"] < released, "the slow client was held until the long request ended"
    assert slow_closed["at"] - sent < GRACE + SLACK
    assert exited - released < DELIVERY + SLACK

    async def created(conn):
        return await conn.fetchval("SELECT count(*) FROM \"p_Locked\" WHERE data->>'n' = '1'")

    assert query(fresh_dsn, created) == 1


def _hold_lock(dsn: str, sql: str, locked: threading.Event, release: threading.Event) -> None:
    """Run `sql` in a transaction, set `locked`, and commit once `release` is set."""

    async def hold() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute(sql)
                locked.set()
                while not release.is_set():
                    await asyncio.sleep(0.05)
        finally:
            await conn.close()

    asyncio.run(hold())
