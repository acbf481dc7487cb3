#!/usr/bin/env python3
"""LiveQuery fan-out benchmark for any Parse-compatible server (Parsnip or Parse Server).

What: opens C websocket connections speaking the Parse LiveQuery protocol, subscribes S
queries ``{"className": X, "where": {"room": "room-k"}}`` spread over R rooms, then posts W
objects per second (``POST /classes/X`` with ``{"room", "t0", "seq"}``) for a fixed duration,
open loop: each write is sent at its scheduled time whether or not earlier ones were answered
or delivered. ``t0`` is the wall-clock time taken just before the POST is written, so the
delay of a delivery is "receipt at the subscriber minus write start". It reports:

* delivered events/s, and the delay p50/p90/p99/p99.9/max (first receipt per subscription);
* missed deliveries: for every successful write, each confirmed subscription in its room
  should get exactly one ``create`` event; what has not arrived within ``--grace`` seconds
  after the last write is missed, what arrives twice is a duplicate;
* the server's RSS per subscription (``--server-pid``: the process and its children, read
  from /proc before subscribing and once all subscriptions are confirmed);
* how long connecting and subscribing took, the writes' own latency and schedule lag, and
  the CPU of the generator, the server and the whole machine.

Modes: ``load`` (the above), ``idle`` (only connect and subscribe, then report RSS per
subscription and the subscribe time), ``ceiling`` (no server: a local stub LiveQuery server in
its own process pushes the same events as fast as the receivers take them, to measure this
generator's own ceiling). ``--rooms 1`` is the broadcast case: every subscription on one query.

Scenarios (``--scenario``, issue 15) set the mode and sizes: ``chat-users`` (one signed-up user
per subscription, its session token in the subscribe message, one role per room and every
message ACL'd to its room's role; each query also matches ``--foreign-rooms`` other rooms, and
any event of another room is counted as a leak: leaks or misses fail the run), ``broadcast``,
``rooms`` and ``idle``.

How: receivers are ``--procs`` processes, each with many connections on one asyncio loop
(uvloop when importable) and a minimal RFC 6455 client written for this purpose. A received
event is not JSON-decoded: its requestId, seq and t0 are found with compiled regexes searched
directly in the receive buffer; only other messages (connected, subscribed, error, ...) are
decoded. Subscribe messages are pipelined per connection (up to ``--subscribe-window``
unanswered). Writes go from the parent process over keep-alive connections with the minimal
HTTP client of ``rest_bench.py``.

Safety bounds: loopback addresses only; the load stops after ``--duration`` seconds plus
``--grace``; setup gives up after ``--setup-timeout``; the class (``LQBench_<random>``) is
purged and dropped at the end unless ``--keep-class``. Only the standard library is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import hashlib
import json
import math
import multiprocessing as mp
import queue
import random
import re
import socket
import string
import sys
import time
import traceback
import urllib.parse
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit as bk  # noqa: E402  (set-up, figures, /proc accounting, report: shared with rest_bench)
import rest_bench as rb  # noqa: E402  (its minimal HTTP client)

MODES = ("load", "idle", "ceiling")
# Issue 15's scenarios: the mode and the sizes each one uses unless given on the command line.
SCENARIOS: dict[str, dict[str, Any]] = {
    "chat-users": {"mode": "load", "subscriptions": 5000, "connections": 50, "rooms": 100, "rate": 100.0},
    "broadcast": {"mode": "load", "subscriptions": 10000, "connections": 100, "rooms": 1, "rate": 20.0},
    "rooms": {"mode": "load", "subscriptions": 50000, "connections": 500, "rooms": 5000, "rate": 1000.0},
    "idle": {"mode": "idle", "subscriptions": 1_000_000, "connections": 1000, "rooms": 100, "rate": 100.0},
}
DEFAULTS = {"mode": "load", "subscriptions": 5000, "connections": 50, "rooms": 100, "rate": 100.0}
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
EVENT_PREFIX = b'{"op":"create"'
RE_REQUEST_ID = re.compile(rb'"requestId":(\d+)')
RE_SEQ = re.compile(rb'"seq":(\d+)')
RE_T0 = re.compile(rb'"t0":([0-9.eE+-]+)')
ERROR_SAMPLE = 300


def run_async(coro: Any) -> Any:
    """Run a coroutine on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --------------------------------------------------------------------------------------------
# Who subscribes to what
# --------------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Subscription i is in room ``i % rooms`` and on connection ``i * connections // subs``
    (contiguous blocks, so each connection holds subscriptions of many rooms). Write ``seq``
    goes to room ``seq % rooms``: the writes are dealt round-robin over the rooms."""

    subscriptions: int
    connections: int
    rooms: int
    writes: int  # planned writes; 0 in idle mode

    def first_sub(self, conn: int) -> int:
        """Index of the first subscription on connection `conn` (conn == connections: the end)."""
        return -(-conn * self.subscriptions // self.connections)

    def slots(self) -> int:
        """How many writes can reach one subscription (the writes of its room)."""
        return -(-self.writes // self.rooms) if self.writes else 0

    def writes_in_room(self, room: int) -> int:
        return self.writes // self.rooms + (1 if room < self.writes % self.rooms else 0)


@dataclass
class ReceiverJob:
    """One receiver process's share: connections [conn_lo, conn_hi)."""

    index: int
    host: str
    port: int
    path: str
    app_id: str
    lq_master_key: str | None
    class_name: str
    layout: Layout
    conn_lo: int
    conn_hi: int
    subscribe_window: int
    connect_concurrency: int
    timeout: float
    progress_interval: float
    # chat-users: the session token of each subscription [sub_lo, sub_hi) of this process, and
    # how many other rooms each query also asks for (their messages the ACL must hide)
    session_tokens: list[str] | None = None
    foreign_rooms: int = 0


# --------------------------------------------------------------------------------------------
# Minimal websocket client (RFC 6455, client side, no extensions)
# --------------------------------------------------------------------------------------------


def mask_bytes(payload: bytes, mask: bytes) -> bytes:
    """XOR payload with the repeated 4-byte mask (also unmasks)."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def frame_header(opcode: int, length: int, masked: bool) -> bytes:
    bit = 0x80 if masked else 0
    if length < 126:
        return bytes((0x80 | opcode, bit | length))
    if length < 65536:
        return bytes((0x80 | opcode, bit | 126)) + length.to_bytes(2, "big")
    return bytes((0x80 | opcode, bit | 127)) + length.to_bytes(8, "big")


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One final, masked client frame."""
    mask = random.randbytes(4)
    return frame_header(opcode, len(payload), True) + mask + mask_bytes(payload, mask)


def room_query(room: int, rooms: int, foreign: int) -> dict[str, Any]:
    """The where of a subscription in `room`; with `foreign` > 0 it also matches the next
    rooms, whose messages only their members may read (chat-users: the ACL must hide them)."""
    if not foreign:
        return {"room": f"room-{room}"}
    return {"room": {"$in": [f"room-{(room + k) % rooms}" for k in range(min(foreign, rooms - 1) + 1)]}}


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


class ReceiverState:
    """Counters and samples shared by all connections of one receiver process."""

    def __init__(self, job: ReceiverJob) -> None:
        layout = job.layout
        self.rooms, self.writes, self.slots = layout.rooms, layout.writes, layout.slots()
        self.sub_lo, self.sub_hi = layout.first_sub(job.conn_lo), layout.first_sub(job.conn_hi)
        self.counts = bytearray((self.sub_hi - self.sub_lo) * self.slots)  # receipts per (sub, write)
        self.confirmed_subs = bytearray(self.sub_hi - self.sub_lo)
        self.delays = array("d")  # seconds, first receipt only
        self.arrivals = array("d")  # epoch seconds, parallel to delays
        self.counting = True
        self.unique = self.duplicates = self.unexpected = self.other_events = 0
        self.foreign_room = 0  # events of a write to another room: an ACL (or query) leak
        self.connected = self.confirmed = self.subscribe_errors = 0
        self.errors = self.closed_by_server = 0
        self.first_error: str | None = None
        self.reported = 0  # len(delays) at the last progress report

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message[:ERROR_SAMPLE]


class LiveQueryConnection(asyncio.Protocol):
    """One websocket connection carrying the subscriptions [sub_lo, sub_end) of the layout;
    requestId r on this connection is subscription sub_lo + r - 1."""

    def __init__(self, state: ReceiverState, job: ReceiverJob, conn: int) -> None:
        loop = asyncio.get_running_loop()
        self.state, self.job = state, job
        self.sub_lo, self.sub_end = job.layout.first_sub(conn), job.layout.first_sub(conn + 1)
        self.transport: asyncio.Transport | None = None
        self.key = base64.b64encode(random.randbytes(16)).decode()
        self.head = b""  # handshake bytes until the blank line
        self.in_handshake = True
        self.buf: bytes | bytearray = b""  # unparsed frame bytes
        self.fragments: list[bytes] | None = None
        self.closing = False
        self.handshake_done = loop.create_future()
        self.connected = loop.create_future()
        self.subscribed = loop.create_future()
        self.next_request = 1
        self.outstanding = 0
        self.answered = 0

    # transport callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        job = self.job
        request = (f"GET {job.path} HTTP/1.1\r\nHost: {job.host}:{job.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.transport.write(request.encode("latin-1"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.state.error(f"connection lost: {exc!r}" if exc else "connection closed by server")
        for fut in (self.handshake_done, self.connected, self.subscribed):
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))
                fut.exception()  # mark retrieved: the loss is already counted

    def data_received(self, data: bytes) -> None:
        if self.in_handshake:
            data = self._handshake(data)
            if not data:
                return
        buf = data if not self.buf else self.buf + data
        pos = self._frames(buf, time.time())
        self.buf = buf[pos:] if pos < len(buf) else b""

    # handshake -----------------------------------------------------------------------------
    def _handshake(self, data: bytes) -> bytes:
        """Consume the HTTP 101 answer; return the bytes after it (frames)."""
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return b""
        head, rest = self.head[:end].decode("latin-1"), self.head[end + 4:]
        self.in_handshake, self.head = False, b""
        lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if " 101 " not in lines[0] + " " or headers.get("sec-websocket-accept") != accept_key(self.key):
            self.handshake_done.set_exception(ConnectionError(f"websocket upgrade refused: {lines[0][:120]}"))
            self.closing = True
            if self.transport:
                self.transport.close()
            return b""
        self.handshake_done.set_result(None)
        return rest

    # frames --------------------------------------------------------------------------------
    def _frames(self, buf: bytes | bytearray, now: float) -> int:
        """Handle every complete frame in buf; return how many bytes were consumed."""
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, length = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            end = start + length
            if end > n:
                break
            if b0 == 0x81:  # final text frame: the common case
                self._text(buf, start, end, now)
            else:
                self._other_frame(b0, bytes(buf[start:end]), now)
            pos = end
        return pos

    def _other_frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode, final = b0 & 0x0F, b0 & 0x80
        if opcode in (0, 1, 2):  # fragmented message (not sent by Parse, handled anyway)
            self.fragments = (self.fragments or []) + [payload]
            if final:
                message, self.fragments = b"".join(self.fragments), None
                self._text(message, 0, len(message), now)
        elif opcode == 8:  # close
            if not self.closing:
                self.state.closed_by_server += 1
                self.state.error(f"server closed the websocket: {payload[2:][:120]!r}")
            self.close()
        elif opcode == 9:  # ping
            self.send(payload, opcode=10)

    def _text(self, buf: bytes | bytearray, start: int, end: int, now: float) -> None:
        """A text message: events are picked apart with regexes, the rest is JSON-decoded."""
        st = self.state
        if buf.startswith(EVENT_PREFIX, start, end):
            if not st.counting:
                return
            rid = RE_REQUEST_ID.search(buf, start, end)
            if rid is not None:  # seq and t0 are in the object, after the requestId
                seq, t0 = RE_SEQ.search(buf, rid.end(), end), RE_T0.search(buf, rid.end(), end)
            if rid is not None and seq is not None and t0 is not None:
                self._event(self.sub_lo + int(rid[1]) - 1, int(seq[1]), float(t0[1]), now)
                return
        self._control(bytes(buf[start:end]))

    def _event(self, sub: int, seq: int, t0: float, now: float) -> None:
        st = self.state
        if not self.sub_lo <= sub < self.sub_end or seq >= st.writes:
            st.unexpected += 1  # wrong requestId or unknown write
            return
        if seq % st.rooms != sub % st.rooms:
            st.foreign_room += 1
            return
        k = (sub - st.sub_lo) * st.slots + seq // st.rooms
        count = st.counts[k]
        if count:
            st.duplicates += 1
            if count < 255:
                st.counts[k] = count + 1
            return
        st.counts[k] = 1
        st.unique += 1
        st.delays.append(now - t0)
        st.arrivals.append(now)

    def _control(self, raw: bytes) -> None:
        st = self.state
        try:
            msg = json.loads(raw)
            op = msg.get("op")
        except (ValueError, AttributeError):
            st.error(f"undecodable message: {raw[:ERROR_SAMPLE]!r}")
            return
        if op == "connected":
            if not self.connected.done():
                self.connected.set_result(None)
        elif op == "subscribed":
            self._answered(msg.get("requestId"), ok=True)
        elif op == "error":
            st.error(f"error message: {raw[:ERROR_SAMPLE].decode('utf-8', 'replace')}")
            if not self.connected.done():
                self.connected.set_exception(ConnectionError(f"connect refused: {raw[:200]!r}"))
            elif isinstance(msg.get("requestId"), int) and not self.subscribed.done():
                self._answered(msg["requestId"], ok=False)
        elif op in ("create", "enter", "update", "leave", "delete"):
            if st.counting:
                st.other_events += 1
        elif op != "unsubscribed":
            st.error(f"unexpected message: {raw[:ERROR_SAMPLE]!r}")

    # sending -------------------------------------------------------------------------------
    def send(self, payload: bytes, opcode: int = 1) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload, opcode))

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(json.dumps(message, separators=(",", ":")).encode())

    def start_subscribing(self) -> None:
        if self.sub_end == self.sub_lo:
            self.subscribed.set_result(None)
        else:
            self._send_subscribes()

    def _send_subscribes(self) -> None:
        """Top the pipeline up to --subscribe-window unanswered subscribe messages."""
        total = self.sub_end - self.sub_lo
        count = min(self.job.subscribe_window - self.outstanding, total - self.next_request + 1)
        if count <= 0 or self.transport is None:
            return
        job, rooms, frames = self.job, self.state.rooms, []
        for rid in range(self.next_request, self.next_request + count):
            sub = self.sub_lo + rid - 1
            message = {"op": "subscribe", "requestId": rid,
                       "query": {"className": job.class_name, "where": room_query(sub % rooms, rooms, job.foreign_rooms)}}
            if job.session_tokens:
                message["sessionToken"] = job.session_tokens[sub - self.state.sub_lo]
            frames.append(client_frame(json.dumps(message, separators=(",", ":")).encode()))
        self.transport.write(b"".join(frames))
        self.next_request += count
        self.outstanding += count

    def _answered(self, rid: Any, ok: bool) -> None:
        st = self.state
        if not isinstance(rid, int) or not 1 <= rid < self.next_request:
            st.error(f"answer for unknown requestId {rid!r}")
            return
        sub = self.sub_lo + rid - 1
        if ok:
            if st.confirmed_subs[sub - st.sub_lo]:
                st.error(f"subscription {rid} confirmed twice")
                return
            st.confirmed_subs[sub - st.sub_lo] = 1
            st.confirmed += 1
        else:
            st.subscribe_errors += 1
        self.outstanding -= 1
        self.answered += 1
        if self.answered == self.sub_end - self.sub_lo:
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif self.outstanding <= self.job.subscribe_window // 2:
            self._send_subscribes()

    def close(self) -> None:
        if self.transport is not None and not self.closing:
            self.closing = True
            try:
                self.transport.write(client_frame(b"\x03\xe8", opcode=8))
            finally:
                self.transport.close()


# --------------------------------------------------------------------------------------------
# Receiver process
# --------------------------------------------------------------------------------------------


async def open_one(job: ReceiverJob, state: ReceiverState, conn: int, gate: asyncio.Semaphore) -> LiveQueryConnection | None:
    """TCP connect, websocket upgrade, then LiveQuery connect; None on failure (counted)."""
    loop = asyncio.get_running_loop()
    async with gate:
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: LiveQueryConnection(state, job, conn), job.host, job.port), job.timeout)
            await asyncio.wait_for(proto.handshake_done, job.timeout)
            hello: dict[str, Any] = {"op": "connect", "applicationId": job.app_id}
            if job.lq_master_key:
                hello["masterKey"] = job.lq_master_key
            proto.send_json(hello)
            await asyncio.wait_for(proto.connected, job.timeout)
        except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
            state.error(f"connection {conn}: {type(exc).__name__}: {exc}")
            return None
    state.connected += 1
    return proto


async def subscribe_all(conns: list[LiveQueryConnection], state: ReceiverState, timeout: float) -> None:
    """Pipeline every connection's subscribe messages and wait for all answers."""
    for proto in conns:
        proto.start_subscribing()
    waiters = [asyncio.shield(p.subscribed) for p in conns]
    done, pending = await asyncio.wait(waiters, timeout=timeout) if waiters else (set(), set())
    for fut in done:
        if fut.exception() is not None:
            state.error(f"subscribing failed: {fut.exception()!r}")
    if pending:
        state.error(f"{len(pending)} connection(s) still had unanswered subscriptions after {timeout:g}s")


def recent_p99_ms(state: ReceiverState) -> tuple[int, float | None]:
    """Deliveries since the last report and the p99 of their delay (ms)."""
    recent = sorted(state.delays[state.reported:])
    state.reported = len(state.delays)
    return len(recent), (round(1000 * bk.percentile(recent, 0.99), 1) if recent else None)


async def report_progress(state: ReceiverState, job: ReceiverJob, out: Any) -> None:
    while True:
        await asyncio.sleep(job.progress_interval)
        recent, p99 = recent_p99_ms(state)
        out.put(("progress", job.index, {
            "connected": state.connected, "confirmed": state.confirmed, "delivered": state.unique,
            "duplicates": state.duplicates, "errors": state.errors, "recent": recent, "recent_p99_ms": p99}))


async def wait_command(ctl: Any, name: str) -> tuple:
    """Poll the control queue (without blocking the loop) until command `name` arrives."""
    while True:
        try:
            command = ctl.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.05)
            continue
        if command[0] == name:
            return command


def finish_counts(state: ReceiverState, layout: Layout, failed: list[int]) -> dict[str, Any]:
    """Expected, delivered, missed for this process's subscriptions, given the failed writes."""
    rooms, slots = layout.rooms, state.slots
    ok_in_room = [layout.writes_in_room(r) for r in range(rooms)]
    unique = state.unique
    for seq in failed:  # a failed write was expected nowhere; anything received for it is unexpected
        room = seq % rooms
        ok_in_room[room] -= 1
        first = state.sub_lo + (room - state.sub_lo) % rooms
        for sub in range(first, state.sub_hi, rooms):
            k = (sub - state.sub_lo) * slots + seq // rooms
            if state.counts[k]:
                unique -= 1
                state.unexpected += state.counts[k]
                state.counts[k] = 0
    expected = sum(ok_in_room[sub % rooms] for sub in range(state.sub_lo, state.sub_hi)
                   if state.confirmed_subs[sub - state.sub_lo])
    return {"expected": expected, "delivered": unique, "missed": expected - unique,
            "duplicates": state.duplicates, "unexpected": state.unexpected, "other_events": state.other_events,
            "foreign_room": state.foreign_room}


async def receiver_async(job: ReceiverJob, ctl: Any, out: Any) -> None:
    state = ReceiverState(job)
    reporter = asyncio.create_task(report_progress(state, job, out))
    gate = asyncio.Semaphore(job.connect_concurrency)
    opened = await asyncio.gather(*(open_one(job, state, c, gate) for c in range(job.conn_lo, job.conn_hi)))
    conns = [p for p in opened if p is not None]
    out.put(("connected", job.index, {"connected": len(conns), "failed": len(opened) - len(conns)}))
    await wait_command(ctl, "subscribe")
    started = time.time()
    await subscribe_all(conns, state, job.timeout * 10 + (state.sub_hi - state.sub_lo) / 100)
    done = time.time()
    per_room = [0] * job.layout.rooms
    for i, flag in enumerate(state.confirmed_subs):
        per_room[(state.sub_lo + i) % job.layout.rooms] += flag
    out.put(("subscribed", job.index, {"started": started, "done": done, "confirmed": state.confirmed,
                                       "subscribe_errors": state.subscribe_errors, "confirmed_per_room": per_room}))
    cpu0, wall0 = time.process_time(), time.time()
    _, failed = await wait_command(ctl, "stop")
    state.counting = False
    cpu, wall = time.process_time() - cpu0, time.time() - wall0
    reporter.cancel()
    for proto in conns:
        proto.close()
    result = finish_counts(state, job.layout, failed)
    result.update(cpu_seconds=cpu, wall_seconds=wall, errors=state.errors, first_error=state.first_error,
                  closed_by_server=state.closed_by_server,
                  delays=state.delays.tobytes(), arrivals=state.arrivals.tobytes())
    out.put(("result", job.index, result))
    await asyncio.sleep(0.2)  # let the close frames go out


def receiver_main(job: ReceiverJob, ctl: Any, out: Any) -> None:
    """Entry point of a receiver process; a crash is reported, never left hanging."""
    try:
        run_async(receiver_async(job, ctl, out))
    except BaseException:
        out.put(("crashed", job.index, traceback.format_exc()[-2000:]))


# --------------------------------------------------------------------------------------------
# Ceiling mode: a stub LiveQuery server that pushes events as fast as the receivers read them
# --------------------------------------------------------------------------------------------


class StubConnection(asyncio.Protocol):
    """Server side of one connection: answers connect/subscribe, remembers rooms by requestId."""

    def __init__(self, stub: "Stub") -> None:
        self.stub, self.buf, self.upgraded, self.transport = stub, b"", False, None
        self.by_room: dict[int, list[int]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.stub.conns.append(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", self.buf[:end])
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 b"Sec-WebSocket-Accept: " + accept_key(key[1].decode()).encode() + b"\r\n\r\n")
            self.buf, self.upgraded = self.buf[end + 4:], True
        while len(self.buf) >= 6:  # client frames are small and masked
            length, start = self.buf[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(self.buf[2:4], "big"), 4
            if len(self.buf) < start + 4 + length:
                return
            mask, payload = self.buf[start:start + 4], self.buf[start + 4:start + 4 + length]
            opcode, self.buf = self.buf[0] & 0x0F, self.buf[start + 4 + length:]
            if opcode == 1:
                self.message(json.loads(mask_bytes(payload, mask)))

    def message(self, msg: dict[str, Any]) -> None:
        if msg["op"] == "connect":
            self.send(b'{"op":"connected","clientId":1}')
        elif msg["op"] == "subscribe":
            where = msg["query"]["where"]["room"]
            room = int((where if isinstance(where, str) else where["$in"][0]).split("-")[1])
            self.by_room.setdefault(room, []).append(msg["requestId"])
            self.send(b'{"op":"subscribed","clientId":1,"requestId":%d}' % msg["requestId"])

    def send(self, payload: bytes) -> None:
        self.transport.write(frame_header(1, len(payload), False) + payload)


class Stub:
    def __init__(self) -> None:
        self.conns: list[StubConnection] = []

    async def emit(self, writes: int, rooms: int, class_name: str) -> None:
        """Push the event of each write to every subscription in its room, pausing while the
        kernel buffers are full so that the receivers, not memory, set the pace."""
        # the shape Parse Server 9.10 sends (clientId is a UUID there)
        template = (b'{"op":"create","clientId":"42ce118e-34c7-490c-8c9f-9211fc44537c","requestId":%d,'
                    b'"object":{"room":"room-%d","t0":%.6f,"seq":%d,"createdAt":"2026-01-01T00:00:00.000Z",'
                    b'"updatedAt":"2026-01-01T00:00:00.000Z","className":"' + class_name.encode() + b'",'
                    b'"objectId":"abcdefghij"}}')
        for seq in range(writes):
            room, t0 = seq % rooms, time.time()
            for conn in self.conns:
                rids = conn.by_room.get(room)
                if rids:
                    frames = []
                    for rid in rids:
                        payload = template % (rid, room, t0, seq)
                        frames.append(frame_header(1, len(payload), False) + payload)
                    conn.transport.write(b"".join(frames))
            while any(c.transport.get_write_buffer_size() > 256 * 1024 for c in self.conns if not c.transport.is_closing()):
                await asyncio.sleep(0.001)


async def stub_async(ctl: Any, out: Any) -> None:
    stub = Stub()
    server = await asyncio.get_running_loop().create_server(lambda: StubConnection(stub), "127.0.0.1", 0)
    out.put(("stub-port", -1, server.sockets[0].getsockname()[1]))
    _, writes, rooms, class_name = await wait_command(ctl, "emit")
    started = time.time()
    await stub.emit(writes, rooms, class_name)
    out.put(("emitted", -1, {"started": started, "done": time.time()}))
    await wait_command(ctl, "stop")
    server.close()


def stub_main(ctl: Any, out: Any) -> None:
    try:
        run_async(stub_async(ctl, out))
    except BaseException:
        out.put(("crashed", -1, traceback.format_exc()[-2000:]))


# --------------------------------------------------------------------------------------------
# Parent: collecting messages from the processes
# --------------------------------------------------------------------------------------------


class ReceiverCrashed(RuntimeError):
    pass


class Collector:
    """Reads the processes' shared output queue: latest progress per receiver, and the other
    messages by kind ("connected", "subscribed", "result", ...) and process index."""

    def __init__(self, out: Any, procs: int) -> None:
        self.out, self.procs = out, procs
        self.progress: dict[int, dict[str, Any]] = {}
        self.messages: dict[str, dict[int, Any]] = {}

    def poll(self, block: float = 0.0) -> None:
        try:
            item = self.out.get(timeout=block) if block > 0 else self.out.get_nowait()
        except queue.Empty:
            return
        while True:
            kind, index, payload = item
            if kind == "crashed":
                raise ReceiverCrashed(f"process {index} crashed:\n{payload}")
            if kind == "progress":
                self.progress[index] = payload
            else:
                self.messages.setdefault(kind, {})[index] = payload
            try:
                item = self.out.get_nowait()
            except queue.Empty:
                return

    def got(self, kind: str) -> dict[int, Any]:
        return self.messages.get(kind, {})

    def total(self, key: str) -> int:
        return sum(p.get(key) or 0 for p in self.progress.values())

    def worst_recent_p99(self) -> float | None:
        values = [p["recent_p99_ms"] for p in self.progress.values() if p.get("recent_p99_ms") is not None]
        return max(values) if values else None

    def wait_all(self, kind: str, timeout: float, show: Any, count: int | None = None) -> dict[int, Any]:
        """Block until every receiver (or `count` processes) sent `kind`, printing progress."""
        count = self.procs if count is None else count
        deadline, next_print = time.time() + timeout, time.time() + 1
        while len(self.got(kind)) < count:
            if time.time() > deadline:
                raise TimeoutError(f"no '{kind}' from {count - len(self.got(kind))} process(es) after {timeout:g}s")
            self.poll(0.2)
            if show and time.time() >= next_print:
                show()
                next_print += 1
        return self.got(kind)


# --------------------------------------------------------------------------------------------
# Parent: the open-loop writer
# --------------------------------------------------------------------------------------------


@dataclass
class WriteOutcome:
    started: float = 0.0  # epoch of the first write's scheduled time
    last_sent: float = 0.0
    ok: int = 0
    failed_seqs: list[int] | None = None
    latencies: list[float] | None = None
    unanswered: int = 0  # still without an answer at the end of the grace period
    max_lag: float = 0.0  # worst delay between a write's scheduled time and its send
    late: int = 0  # writes sent more than 10 ms after their scheduled time
    first_error: str | None = None
    cpu_seconds: float = 0.0


class PipelinedConnection(rb.HttpConnection):
    """rest_bench's keep-alive connection with HTTP/1.1 pipelining: a request is written at
    once, whatever is still unanswered on the connection, and answers are matched in order."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: collections.deque[asyncio.Future] = collections.deque()

    def send(self, raw: bytes) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if self.closed or self.transport is None:
            fut.set_exception(rb.HttpError("connection is closed"))
        else:
            self.waiters.append(fut)
            self.transport.write(raw)
        return fut

    def _parse(self) -> None:
        while self.waiters:
            if self.body_length < 0 and not self.chunked and not self._parse_head():
                return
            body = self._take_chunked() if self.chunked else self._take_sized()
            if body is None:
                return
            fut = self.waiters.popleft()
            if not fut.done():  # done: cancelled at the end of the grace period
                fut.set_result((self.status, body))
            self.status, self.body_length, self.chunked, self.body_start = 0, -1, False, 0
            if self.must_close:
                self.close()
                return
        if self.buffer:
            raise rb.HttpError("unexpected data from server")

    def _fail(self, exc: Exception) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(exc)


async def open_pipelined(host: str, port: int, timeout: float) -> PipelinedConnection:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(loop.create_connection(PipelinedConnection, host, port), timeout)
    return conn


class Writer:
    """Posts write `seq` at started + seq / rate, open loop, round-robin over a fixed pool of
    keep-alive connections opened beforehand, pipelining when a connection still waits for
    answers: a server that is behind cannot slow the schedule down, and it is not asked to
    accept new connections under load (a saturated server leaves them in its listen backlog).
    A write has no timeout of its own: a server that is behind answers late but still creates
    the object, so its deliveries are still expected; what is unanswered when the grace period
    ends is cancelled and counted as unanswered (its deliveries stay expected)."""

    def __init__(self, target: bk.Target, layout: Layout, rate: float, connections: int, timeout: float,
                 acl_prefix: str | None = None) -> None:
        self.target, self.layout, self.rate, self.timeout = target, layout, rate, timeout
        # chat-users: each message readable only by its room's role, "<acl_prefix><room>"
        self.acl_prefix = acl_prefix.encode() if acl_prefix else None
        self.path = f"/classes/{urllib.parse.quote(target.class_name)}"
        # at least two writes per connection per second, so none idles into the server's
        # keep-alive timeout (5 s on Node)
        self.pool_size = max(1, min(connections, math.ceil(rate / 2)))
        self.pool: list[PipelinedConnection] = []
        self.outcome = WriteOutcome(failed_seqs=[], latencies=[])
        self.sent = 0
        self.in_flight = 0
        self.tasks: set[asyncio.Task] = set()

    async def open_pool(self) -> None:
        self.pool = list(await asyncio.gather(*(open_pipelined(self.target.host, self.target.port, self.timeout)
                                                 for _ in range(self.pool_size))))

    async def write(self, seq: int, scheduled: float) -> None:
        out, index = self.outcome, seq % self.pool_size
        self.in_flight += 1
        try:
            if self.pool[index].closed:  # closed by the server; rare while writes flow
                self.pool[index] = await open_pipelined(self.target.host, self.target.port, self.timeout)
            t0 = time.time()
            lag = t0 - scheduled
            out.max_lag = max(out.max_lag, lag)
            out.late += lag > 0.010
            room = seq % self.layout.rooms
            body = b'{"room":"room-%d","t0":%.6f,"seq":%d' % (room, t0, seq)
            if self.acl_prefix:
                body += b',"ACL":{"role:%s%d":{"read":true}}' % (self.acl_prefix, room)
            body += b"}"
            self.sent += 1
            out.last_sent = max(out.last_sent, t0)
            status, reply = await self.pool[index].send(rb.encode_request(self.target, "POST", self.path, body))
            if status == 201:
                out.ok += 1
                out.latencies.append(time.time() - t0)
            else:
                self.fail(seq, f"HTTP {status}: {reply[:ERROR_SAMPLE].decode('utf-8', 'replace')}")
        except (OSError, rb.HttpError, asyncio.TimeoutError) as exc:
            self.fail(seq, f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:  # the grace period is over
            out.unanswered += 1
        finally:
            self.in_flight -= 1

    def fail(self, seq: int, message: str) -> None:
        self.outcome.failed_seqs.append(seq)
        if self.outcome.first_error is None:
            self.outcome.first_error = message

    async def run(self) -> None:
        """Start every write at its scheduled time; return once the last one is started."""
        tasks, writes = self.tasks, self.layout.writes
        start = time.time() + 0.05
        self.outcome.started = start
        seq = 0
        while seq < writes:
            now = time.time()
            while seq < writes and start + seq / self.rate <= now:
                task = asyncio.create_task(self.write(seq, start + seq / self.rate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                seq += 1
            if seq < writes:
                await asyncio.sleep(max(0.0, start + seq / self.rate - time.time()))

    async def cancel_unanswered(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks))
        for conn in self.pool:
            conn.close()


async def load_phase(args: argparse.Namespace, target: bk.Target, layout: Layout, collector: Collector,
                     expected_total: int) -> WriteOutcome:
    """Run the writer with a progress line per second, then wait out the grace period (or
    until every expected delivery arrived)."""
    writer = Writer(target, layout, args.rate, args.write_connections, args.timeout,
                    role_prefix(args) if args.scenario == "chat-users" else None)
    cpu0 = time.process_time()
    printer = asyncio.create_task(print_load_progress(writer, collector, layout))
    try:
        await writer.open_pool()
        await writer.run()
        grace_end = time.time() + args.grace
        while time.time() < grace_end:
            collector.poll()
            if not writer.in_flight:  # all answered: stop early once everything arrived
                expected = expected_total - sum(subs_in_room_confirmed(collector, s % layout.rooms)
                                                for s in writer.outcome.failed_seqs)
                if collector.total("delivered") >= expected:
                    break
            await asyncio.sleep(0.1)
        await writer.cancel_unanswered()
    finally:
        printer.cancel()
    writer.outcome.cpu_seconds = time.process_time() - cpu0
    return writer.outcome


def subs_in_room_confirmed(collector: Collector, room: int) -> int:
    return sum(m["confirmed_per_room"][room] for m in collector.got("subscribed").values())


async def print_load_progress(writer: Writer, collector: Collector, layout: Layout) -> None:
    started = time.time()
    while True:
        await asyncio.sleep(1.0)
        collector.poll()
        p99 = collector.worst_recent_p99()
        print(f"  {time.time() - started:5.0f}s  writes sent {writer.sent:,}/{layout.writes:,} "
              f"(ok {writer.outcome.ok:,}, failed {len(writer.outcome.failed_seqs):,}, in flight {writer.in_flight})  "
              f"deliveries {collector.total('delivered'):,} (+{collector.total('recent'):,}/s, "
              f"dup {collector.total('duplicates'):,})  p99 last s "
              f"{'-' if p99 is None else f'{p99:,.0f} ms'}  errors {collector.total('errors')}", flush=True)


# --------------------------------------------------------------------------------------------
# Parent: figures
# --------------------------------------------------------------------------------------------


def merge_receivers(results: dict[int, dict[str, Any]], start: float, window: float) -> dict[str, Any]:
    delays, arrivals = array("d"), array("d")
    for r in results.values():
        delays.frombytes(r["delays"])
        arrivals.frombytes(r["arrivals"])
    in_window = sum(1 for a in arrivals if start <= a <= start + window)
    keys = ("expected", "delivered", "missed", "duplicates", "unexpected", "foreign_room", "other_events", "errors",
            "closed_by_server")
    merged: dict[str, Any] = {k: sum(r[k] for r in results.values()) for k in keys}
    cpu = sum(r["cpu_seconds"] for r in results.values())
    wall = max((r["wall_seconds"] for r in results.values()), default=0.0) or 1e-9
    merged.update(
        delivered_per_second=round(in_window / window, 1) if window > 0 else None,
        delivered_in_window=in_window,
        missed_percent=round(100 * merged["missed"] / merged["expected"], 3) if merged["expected"] else 0.0,
        delay_ms=bk.latency_ms(sorted(delays), ("p50", "p90", "p99", "p999")),
        receivers_cpu_percent=round(100 * cpu / wall, 1),
        receivers_cpu_us_per_delivery=round(1e6 * cpu / len(delays), 2) if len(delays) else None,
        first_error=next((r["first_error"] for r in results.values() if r["first_error"]), None),
        per_second=bk.per_second(arrivals, delays, start),
    )
    return merged


def last_arrival(results: dict[int, dict[str, Any]]) -> float:
    latest = 0.0
    for r in results.values():
        arrivals = array("d")
        arrivals.frombytes(r["arrivals"])
        latest = max(latest, max(arrivals, default=0.0))
    return latest


def write_figures(outcome: WriteOutcome, layout: Layout, duration: float) -> dict[str, Any]:
    lat = sorted(outcome.latencies or [])
    return {
        "planned": layout.writes, "ok": outcome.ok, "failed": len(outcome.failed_seqs or []),
        "unanswered": outcome.unanswered,
        "achieved_per_second": round(outcome.ok / duration, 1),
        "latency_ms": {k: v or 0.0 for k, v in bk.latency_ms(lat, ("p50", "p99")).items() if k != "mean"},
        "max_schedule_lag_ms": round(1000 * outcome.max_lag, 2), "late_over_10ms": outcome.late,
        "first_error": outcome.first_error, "writer_cpu_seconds": round(outcome.cpu_seconds, 2),
    }


# --------------------------------------------------------------------------------------------
# Parent: setup, orchestration, output
# --------------------------------------------------------------------------------------------


def parse_ws_url(url: str) -> tuple[str, int, str]:
    """(host, port, path) of a ws:// URL on a loopback address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ws":
        raise SystemExit(f"--ws-url must be a ws:// URL, got {url!r}")
    host, port, path = bk.loopback_target("http://" + parts.netloc + parts.path)
    return host, port, path or "/"


def spawn_receivers(args: argparse.Namespace, layout: Layout, ws: tuple[str, int, str],
                    ctx: Any, out: Any, tokens_of: list[str] | None = None) -> list[tuple[Any, Any]]:
    """Start one receiver process per share of the connections; returns (process, ctl queue).
    `tokens_of`: chat-users, the session token of each subscription."""
    shares = bk.split_connections(layout.connections, args.procs)
    procs, lo = [], 0
    for index, count in enumerate(shares):
        tokens = tokens_of[layout.first_sub(lo):layout.first_sub(lo + count)] if tokens_of else None
        job = ReceiverJob(index, ws[0], ws[1], ws[2], args.app_id, args.lq_master_key, args.class_name, layout,
                          lo, lo + count, args.subscribe_window, args.connect_concurrency, args.timeout,
                          args.progress_interval, tokens, args.foreign_rooms)
        ctl = ctx.Queue()
        proc = ctx.Process(target=receiver_main, args=(job, ctl, out), daemon=True)
        proc.start()
        procs.append((proc, ctl))
        lo += count
    return procs


def setup_progress(collector: Collector, layout: Layout, started: float) -> Any:
    def show() -> None:
        print(f"  {time.time() - started:5.0f}s  connected {collector.total('connected'):,}/{layout.connections:,}  "
              f"subscribed {collector.total('confirmed'):,}/{layout.subscriptions:,}  errors {collector.total('errors')}",
              flush=True)
    return show


def role_prefix(args: argparse.Namespace) -> str:
    """chat-users: room k's role is named role_prefix + k."""
    return f"{args.class_name}_room"


def set_up_chat_users(args: argparse.Namespace, target: bk.Target, layout: Layout) -> tuple[list[bk.User], list[str]]:
    """Sign up one user per subscription and give each room a role whose users are the room's
    members (subscription i, hence user i, is in room i mod rooms); returns (users, role ids)."""
    started = time.time()
    print(f"chat-users: signing up {layout.subscriptions:,} users ({args.signup_concurrency} at a time) ...", flush=True)
    users = bk.sign_up_users(target, layout.subscriptions, f"{args.class_name.lower()}_u", args.signup_concurrency)
    members = {f"{role_prefix(args)}{room}": [u.object_id for u in users[room::layout.rooms]]
               for room in range(layout.rooms)}
    role_ids = bk.create_roles(target, members)
    bk.progress(started, f"{len(users):,} users and {len(role_ids):,} roles ready")
    return users, role_ids


def create_class(target: bk.Target) -> None:
    """One write with the master key, so the class exists in the schema before subscribing."""
    status, doc = bk.admin_request(target, "POST", f"/classes/{urllib.parse.quote(target.class_name)}",
                                   {"room": "setup", "t0": 0.0, "seq": 0})
    if status != 201:
        raise SystemExit(f"could not create class {target.class_name}: HTTP {status}: {doc}")


def connect_and_subscribe(args: argparse.Namespace, layout: Layout, collector: Collector,
                          procs: list[tuple[Any, Any]], report: dict[str, Any]) -> None:
    """Connect everything, read RSS, subscribe everything, read RSS; figures go into report."""
    pid, started = args.server_pid, time.time()
    show = setup_progress(collector, layout, started)
    connected = collector.wait_all("connected", args.setup_timeout, show)
    report["connections"] = {"opened": sum(m["connected"] for m in connected.values()),
                             "failed": sum(m["failed"] for m in connected.values()),
                             "seconds": round(time.time() - started, 2)}
    report["rss_mb"]["before_subscribe"] = bk.tree_rss_mb(pid)
    for _, ctl in procs:
        ctl.put(("subscribe",))
    subscribed = collector.wait_all("subscribed", args.setup_timeout, show)
    report["rss_mb"]["after_subscribe"] = bk.tree_rss_mb(pid)
    begin = min(m["started"] for m in subscribed.values())
    end = max(m["done"] for m in subscribed.values())
    confirmed = sum(m["confirmed"] for m in subscribed.values())
    report["subscriptions"] = {
        "requested": layout.subscriptions, "confirmed": confirmed,
        "errors": sum(m["subscribe_errors"] for m in subscribed.values()),
        "seconds": round(end - begin, 2),
        "per_second": round(confirmed / (end - begin), 1) if end > begin else None}
    rss = report["rss_mb"]
    if rss["after_subscribe"] is not None and confirmed:
        rss["per_subscription_kb"] = round(1024 * (rss["after_subscribe"] - rss["before_subscribe"]) / confirmed, 3)
        rss["per_subscription_incl_connections_kb"] = round(1024 * (rss["after_subscribe"] - rss["before_connect"]) / confirmed, 3)


def run_load(args: argparse.Namespace, target: bk.Target, layout: Layout, collector: Collector,
             report: dict[str, Any]) -> WriteOutcome:
    expected = sum(subs_in_room_confirmed(collector, r) * layout.writes_in_room(r) for r in range(layout.rooms))
    print(f"load: {args.rate:g} writes/s for {args.duration:g}s ({layout.writes:,} writes, "
          f"{expected:,} deliveries expected, {expected / args.duration:,.0f}/s offered), grace {args.grace:g}s", flush=True)
    meter = bk.ResourceMeter(args.server_pid, args.postgres_pid)  # the generator is this process and its receivers
    meter.start()
    outcome = run_async(load_phase(args, target, layout, collector, expected))
    report.update(meter.stop())
    report["postgres_rss_mb"] = meter.rss_mb()["postgres"]
    report["rss_mb"]["after_load"] = bk.tree_rss_mb(args.server_pid)
    report["writes"] = write_figures(outcome, layout, args.duration)
    report["offered_deliveries_per_second"] = round(expected / args.duration, 1)
    return outcome


def run_ceiling(args: argparse.Namespace, layout: Layout, collector: Collector, stub_ctl: Any) -> WriteOutcome:
    expected = sum(subs_in_room_confirmed(collector, r) * layout.writes_in_room(r) for r in range(layout.rooms))
    print(f"ceiling: the stub pushes {layout.writes:,} writes' events ({expected:,} deliveries) as fast as read", flush=True)
    stub_ctl.put(("emit", layout.writes, layout.rooms, args.class_name))
    started = time.time()
    while collector.total("delivered") < expected and time.time() < started + args.duration * 10 + args.grace:
        collector.poll(1.0)
        p99 = collector.worst_recent_p99()
        print(f"  {time.time() - started:5.0f}s  deliveries {collector.total('delivered'):,} "
              f"(+{collector.total('recent'):,}/s)  p99 last s {p99} ms", flush=True)
    return WriteOutcome(started=started, last_sent=time.time(), ok=layout.writes, failed_seqs=[], latencies=[])


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, run the selected mode, tear down; returns the report."""
    writes = 0 if args.mode == "idle" else round(args.rate * args.duration)
    layout = Layout(args.subscriptions, args.connections, args.rooms, writes)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    report: dict[str, Any] = {"rss_mb": {"server_pid": args.server_pid}}
    target = bk.Target("", 0, "", args.app_id, args.master_key, args.class_name, {})
    stub, users, role_ids = None, [], []
    if args.mode == "ceiling":
        stub_ctl = ctx.Queue()
        stub = ctx.Process(target=stub_main, args=(stub_ctl, out), daemon=True)
        stub.start()
        port = Collector(out, 1).wait_all("stub-port", 30, None, 1)[-1]
        ws = ("127.0.0.1", port, "/")
    else:
        target = bk.make_target(args)
        ws = parse_ws_url(args.ws_url)
        create_class(target)
        if args.scenario == "chat-users":
            users, role_ids = set_up_chat_users(args, target, layout)
    report["rss_mb"]["before_connect"] = bk.tree_rss_mb(args.server_pid)
    collector = Collector(out, min(args.procs, args.connections))
    procs = spawn_receivers(args, layout, ws, ctx, out, [u.session_token for u in users] or None)
    if stub is not None:
        collector.messages.pop("stub-port", None)
    try:
        connect_and_subscribe(args, layout, collector, procs, report)
        print(f"subscribed {report['subscriptions']['confirmed']:,} in {report['subscriptions']['seconds']:g}s; "
              f"server RSS {format_rss(report['rss_mb'])}", flush=True)
        if args.mode == "idle":
            time.sleep(args.hold)
            report["rss_mb"]["after_hold"] = bk.tree_rss_mb(args.server_pid)
            outcome = WriteOutcome(failed_seqs=[])
        elif args.mode == "ceiling":
            outcome = run_ceiling(args, layout, collector, stub_ctl)
        else:
            outcome = run_load(args, target, layout, collector, report)
        for _, ctl in procs:
            ctl.put(("stop", outcome.failed_seqs or []))
        results = collector.wait_all("result", 120, None)
        if args.mode != "idle":
            window = args.duration if args.mode == "load" else last_arrival(results) - outcome.started
            report["deliveries"] = merge_receivers(results, outcome.started, window)
        else:
            report["receiver_errors"] = sum(r["errors"] for r in results.values())
            report["first_error"] = next((r["first_error"] for r in results.values() if r["first_error"]), None)
    finally:
        for proc, ctl in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        if stub is not None:
            stub_ctl.put(("stop",))
            stub.join(timeout=5)
            if stub.is_alive():
                stub.kill()
        if args.mode != "ceiling" and not args.keep_class:
            bk.drop_class(target, patience=60.0)
        if users:
            bk.delete_users_and_roles(target, users, role_ids)
    return report


def format_rss(rss: dict[str, Any]) -> str:
    if rss.get("server_pid") is None:
        return "not measured (no --server-pid given)"
    text = f"{rss.get('before_subscribe')} MiB before subscribing, {rss.get('after_subscribe')} MiB after"
    if rss.get("per_subscription_kb") is not None:
        text += f" ({rss['per_subscription_kb']:.2f} KiB per subscription)"
    return text


def print_summary(report: dict[str, Any]) -> None:
    subs, rss = report["subscriptions"], report["rss_mb"]
    print()
    print(f"subscriptions      {subs['confirmed']:,}/{subs['requested']:,} confirmed, {subs['errors']} errors, "
          f"{subs['seconds']:g}s to subscribe ({subs['per_second'] or 0:,.0f}/s); connections "
          f"{report['connections']['opened']:,} opened, {report['connections']['failed']} failed")
    print(f"server RSS         {format_rss(rss)}"
          + (f"; {rss['after_load']} MiB after the load" if rss.get("after_load") is not None else "")
          + (f"; {rss['after_hold']} MiB after holding" if rss.get("after_hold") is not None else ""))
    if "writes" in report:
        w = report["writes"]
        print(f"writes             {w['ok']:,}/{w['planned']:,} ok ({w['achieved_per_second']:g}/s), {w['failed']} failed, "
              f"{w['unanswered']} unanswered, "
              f"latency p50 {w['latency_ms']['p50']} ms p99 {w['latency_ms']['p99']} ms, max schedule lag "
              f"{w['max_schedule_lag_ms']} ms ({w['late_over_10ms']} late)"
              + (f"; first error: {w['first_error']}" if w["first_error"] else ""))
    if "deliveries" in report:
        d = report["deliveries"]
        ms = d["delay_ms"]
        print(f"deliveries         {d['delivered']:,}/{d['expected']:,} ({d['delivered_per_second'] or 0:,.0f}/s in the "
              f"window), missed {d['missed']:,} ({d['missed_percent']}%), duplicates {d['duplicates']:,}, "
              f"unexpected {d['unexpected']:,}, other rooms' (ACL leaks in chat-users) {d['foreign_room']:,}")
        print(f"delay ms           p50 {ms['p50']}  p90 {ms['p90']}  p99 {ms['p99']}  p99.9 {ms['p999']}  max {ms['max']}")
        print(f"cpu                receivers {d['receivers_cpu_percent']}% of a core "
              f"({d['receivers_cpu_us_per_delivery']} us/delivery), whole generator {report.get('generator_cpu_percent')}%, "
              f"server {report.get('server_cpu_percent', 'n/a')}%, postgres {report.get('postgres_cpu_percent', 'n/a')}%, "
              f"rest of the machine "
              f"{report.get('rest_of_machine_cpu_percent', 'n/a')}% (of one core); machine "
              f"{report.get('machine_busy_percent', 'n/a')}% busy (all cores)")
        if d["first_error"]:
            print(f"first error        {d['first_error']}")
    elif report.get("first_error"):
        print(f"first error        {report['first_error']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default=None,
                   help="issue 15 scenario; sets --mode and the sizes not given (chat-users: a logged-in user per "
                        "subscription, role ACLs per room, checked for leaks)")
    p.add_argument("--mode", choices=MODES, default=None, help="load: writes + deliveries; idle: subscribe only; ceiling: stub server")
    p.add_argument("--url", default="http://127.0.0.1:1337/parse", help="REST URL incl. mount path (loopback only)")
    p.add_argument("--ws-url", default=None, help="LiveQuery websocket URL (default: --url with http -> ws)")
    p.add_argument("--app-id", default="APP")
    p.add_argument("--master-key", default="MASTER", help="for setup/cleanup (and the writes with --load-master-key)")
    p.add_argument("--rest-key", default=None, help="X-Parse-REST-API-Key for the writes, if the server needs one")
    p.add_argument("--load-master-key", action="store_true", help="send the master key with the load writes too")
    p.add_argument("--lq-master-key", default=None, help="masterKey to send in the LiveQuery connect message (none by default)")
    p.add_argument("--subscriptions", type=int, default=None, help="subscriptions in total (S; default 5000 or the scenario's)")
    p.add_argument("--connections", type=int, default=None, help="websocket connections in total (C; default 50 or the scenario's)")
    p.add_argument("--rooms", type=int, default=None, help="distinct queries (R; 1 = broadcast; default 100 or the scenario's)")
    p.add_argument("--rate", type=float, default=None, help="writes per second (W), open loop (default 100 or the scenario's)")
    p.add_argument("--foreign-rooms", type=int, default=None,
                   help="chat-users: other rooms each subscription's query also matches, whose messages the role "
                        "ACL must hide (default 1 for chat-users, else 0)")
    p.add_argument("--signup-concurrency", type=int, default=8, help="chat-users: signups in flight at once")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of writing")
    p.add_argument("--grace", type=float, default=10.0, help="seconds after the last write before what has not arrived is missed")
    p.add_argument("--procs", type=int, default=bk.default_procs(), help="receiver processes")
    p.add_argument("--write-connections", type=int, default=16, help="keep-alive connections for the writes (pipelined; at most rate/2)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per connect step (TCP, upgrade, LiveQuery connect)")
    p.add_argument("--setup-timeout", type=float, default=900.0, help="seconds allowed for connecting, then for subscribing")
    p.add_argument("--subscribe-window", type=int, default=1000, help="unanswered subscribe messages per connection")
    p.add_argument("--connect-concurrency", type=int, default=50, help="connections opened at once per receiver process")
    p.add_argument("--hold", type=float, default=5.0, help="idle mode: seconds to hold the subscriptions before the last RSS read")
    p.add_argument("--progress-interval", type=float, default=1.0, help="seconds between receiver progress reports")
    p.add_argument("--server-pid", type=int, default=None, help="server pid, for RSS and CPU (its children are included)")
    p.add_argument("--postgres-pid", type=int, default=None,
                   help="postmaster pid for PostgreSQL's CPU and RSS (default: the lowest local postmaster)")
    p.add_argument("--class-name", default=None, help="class to use (default LQBench_<random>)")
    p.add_argument("--keep-class", action="store_true", help="do not purge and drop the class at the end")
    p.add_argument("--label", default=None, help="free text stored in the JSON")
    p.add_argument("--json-out", default=None, help="report file (default benchmarks/results/livequery-<mode>-<timestamp>.json)")
    args = p.parse_args(argv)
    preset = SCENARIOS.get(args.scenario, DEFAULTS)
    if args.scenario and args.mode not in (None, preset["mode"]):
        p.error(f"--scenario {args.scenario} runs in --mode {preset['mode']}")
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.foreign_rooms is None:
        args.foreign_rooms = 1 if args.scenario == "chat-users" else 0
    if args.foreign_rooms and args.scenario != "chat-users":
        p.error("--foreign-rooms is for --scenario chat-users (without ACLs the other rooms' messages are meant to arrive)")
    if min(args.subscriptions, args.connections, args.rooms, args.procs, args.subscribe_window) < 1:
        p.error("--subscriptions, --connections, --rooms, --procs and --subscribe-window must be >= 1")
    if args.connections > args.subscriptions or args.rate <= 0 or args.duration <= 0 or args.grace < 0:
        p.error("need --connections <= --subscriptions, --rate > 0, --duration > 0, --grace >= 0")
    if args.server_pid is not None and not Path(f"/proc/{args.server_pid}").exists():
        p.error(f"no process {args.server_pid}")
    args.procs = min(args.procs, args.connections)
    if args.ws_url is None:
        args.ws_url = "ws" + args.url[len("http"):] if args.url.startswith("http://") else args.url
    if args.class_name is None:
        args.class_name = "LQBench_" + "".join(random.choices(string.ascii_letters + string.digits, k=8))
    if args.json_out is None:
        args.json_out = bk.default_report_path(f"livequery-{args.scenario or args.mode}")
    return args


def settings_dict(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("scenario", "mode", "url", "ws_url", "app_id", "subscriptions", "connections", "rooms", "rate", "duration", "grace",
            "procs", "write_connections", "timeout", "subscribe_window", "connect_concurrency", "hold",
            "server_pid", "postgres_pid", "class_name", "load_master_key", "label", "foreign_rooms")
    settings = {k: getattr(args, k) for k in keys}
    if args.scenario == "chat-users":
        settings["users"] = args.subscriptions
        settings["acl"] = "each message readable only by role:<class>_room<k>; user i is a member of room i mod rooms"
    settings["lq_master_key_sent"] = args.lq_master_key is not None
    try:
        import uvloop
        settings["event_loop"] = f"uvloop {uvloop.__version__}"
    except ImportError:
        settings["event_loop"] = "asyncio"
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info: dict[str, Any] = {}
    if args.mode != "ceiling":
        target = bk.make_target(args)
        bk.check_health(target, args.url)
        info = bk.server_info(target)
    print(f"{args.scenario or args.mode}: {args.subscriptions:,} subscriptions over {args.connections:,} connections, "
          f"{args.rooms:,} room(s), {args.procs} receiver process(es); target "
          f"{args.ws_url if args.mode != 'ceiling' else 'local stub'} {info.get('parseServerVersion') or ''} "
          f"class {args.class_name}", flush=True)
    if args.server_pid is None and args.mode != "ceiling":
        print("no --server-pid given: server RSS and CPU are not measured", flush=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = bk.machine_info()
    report = run(args)
    print_summary(report)
    full = {"benchmark": "livequery_bench", "started": started, "server": info, "settings": settings_dict(args),
            "machine": machine, "results": report}
    bk.write_report(args.json_out, full, indent=1)
    deliveries = report.get("deliveries", {})
    failed = report["subscriptions"]["errors"] or report["connections"]["failed"] or report.get("receiver_errors") \
        or deliveries.get("errors") or deliveries.get("foreign_room") \
        or (args.scenario == "chat-users" and deliveries.get("missed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
