"""What the process-level fault tests share: a write load that records what the server
acknowledged, raw-socket clients that misbehave, and the log's invariants checked in SQL."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import httpx

from tests.conftest import ROOT
from tests.livequery.live_helpers import client_frame

BATCH = 5


@dataclass
class Outcomes:
    """What each write of a load got: acknowledged ids, and how the others ended."""

    acked: list[str] = field(default_factory=list)  # objectIds of 2xx answers
    transactions: list[str] = field(default_factory=list)  # tags of every transactional batch sent
    acked_transactions: list[str] = field(default_factory=list)
    answered: int = 0  # any HTTP answer
    closed: int = 0  # connection refused, reset or closed without an answer
    hung: int = 0  # no answer within the client's timeout: what must never happen

    def merge(self, other: "Outcomes") -> None:
        for name in ("acked", "transactions", "acked_transactions"):
            getattr(self, name).extend(getattr(other, name))
        self.answered += other.answered
        self.closed += other.closed
        self.hung += other.hung


class WriteLoad:
    """Threads writing to `cls` (single creates, plain and transactional /batch) until stopped
    or until the server stops taking connections."""

    def __init__(self, url: str, app_id: str, cls: str, threads: int = 8,
                 kinds: tuple[str, ...] = ("single", "batch", "transaction"), timeout: float = 30) -> None:
        self._url, self._app_id, self._cls = url, app_id, cls
        self._mount = urlsplit(url).path
        self._kinds, self._timeout = kinds, timeout
        self._stop = threading.Event()
        self._results = [Outcomes() for _ in range(threads)]
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> "WriteLoad":
        for t in self._threads:
            t.start()
        return self

    def wait_acked(self, n: int, timeout: float = 30) -> None:
        """Block until the load has `n` acknowledged writes (a loaded machine starts slowly)."""
        deadline = time.monotonic() + timeout
        while sum(len(r.acked) for r in self._results) < n:
            assert time.monotonic() < deadline, f"fewer than {n} writes acknowledged in {timeout} s"
            time.sleep(0.05)

    def stop(self) -> Outcomes:
        self._stop.set()
        for t in self._threads:
            t.join(self._timeout + 5)
        total = Outcomes()
        for r in self._results:
            total.merge(r)
        return total

    def _run(self, index: int) -> None:
        out = self._results[index]
        headers = {"X-Parse-Application-Id": self._app_id}
        with httpx.Client(base_url=self._url, headers=headers, timeout=self._timeout) as client:
            n = 0
            while not self._stop.is_set():
                kind = self._kinds[(index + n) % len(self._kinds)]
                n += 1
                try:
                    if not self._write(client, kind, out):
                        return
                except httpx.TimeoutException:
                    out.hung += 1
                except httpx.ConnectError:
                    out.closed += 1
                    return  # nothing listens any more
                except httpx.TransportError:
                    out.closed += 1

    def _write(self, client: httpx.Client, kind: str, out: Outcomes) -> bool:
        if kind == "single":
            r = client.post(f"/classes/{self._cls}", json={"kind": kind, "tag": uuid.uuid4().hex})
            out.answered += 1
            if r.status_code == 201:
                out.acked.append(r.json()["objectId"])
            return True
        tag = uuid.uuid4().hex
        requests = [{"method": "POST", "path": f"{self._mount}/classes/{self._cls}", "body": {"kind": kind, "txn": tag}}
                    for _ in range(BATCH)]
        body: dict = {"requests": requests}
        if kind == "transaction":
            body["transaction"] = True
            out.transactions.append(tag)
        r = client.post("/batch", json=body)
        out.answered += 1
        if r.status_code == 200:
            ids = [item["success"]["objectId"] for item in r.json() if "success" in item]
            out.acked.extend(ids)
            if kind == "transaction" and len(ids) == BATCH:
                out.acked_transactions.append(tag)
        return True


def query(dsn: str, fn):
    """`await fn(conn)` on a connection of its own (from synchronous test code)."""
    async def run():
        conn = await asyncpg.connect(dsn)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


@dataclass
class LogState:
    positions: list[int]
    head: int
    objects: dict[str, str | None]  # objectId -> its transactional batch tag
    created: set[str]  # objectIds of the log's create events
    projections_equal_log: bool


def log_state(dsn: str, cls: str) -> LogState:
    """The log and the class's projection, and whether replaying the log gives the same
    projections (call with no server running on `dsn`)."""

    async def read(conn: asyncpg.Connection) -> LogState:
        positions = [r[0] for r in await conn.fetch("SELECT position FROM parsnip_events ORDER BY position")]
        head = await conn.fetchval("SELECT position FROM parsnip_log_head")
        rows = await conn.fetch(f'SELECT object_id, data->>\'txn\' FROM "p_{cls}"')
        created = {r[0] for r in await conn.fetch(
            "SELECT object_id FROM parsnip_events WHERE kind = 'create' AND class_name = $1", cls)}
        return LogState(positions, head, {r[0]: r[1] for r in rows}, created, False)

    state = query(dsn, read)
    # `parsnip rebuild` replays the log into fresh projections and compares their fingerprints.
    done = subprocess.run([sys.executable, "-m", "parsnip.api.cli", "rebuild", "--databaseURI", dsn], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    state.projections_equal_log = "identical to the tables it replaced" in done.stdout
    return state


def assert_log_holds(state: LogState, out: Outcomes) -> None:
    """Every acknowledged write is in the projection and the log; no transactional batch is
    partly there; positions are 1..head without a gap; projections equal the log."""
    assert state.positions == list(range(1, state.head + 1)), "positions are not dense"
    missing = set(out.acked) - set(state.objects)
    assert not missing, f"{len(missing)} acknowledged writes are missing"
    assert set(state.objects) == state.created
    counts: dict[str, int] = {}
    for tag in state.objects.values():
        if tag is not None:
            counts[tag] = counts.get(tag, 0) + 1
    for tag in out.transactions:
        assert counts.get(tag, 0) in (0, BATCH), f"transactional batch {tag} is partly written"
    for tag in out.acked_transactions:
        assert counts.get(tag) == BATCH
    assert state.projections_equal_log


# -- raw clients -------------------------------------------------------------------------------

def raw_connection(url: str, rcvbuf: int | None = None) -> socket.socket:
    parts = urlsplit(url)
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((parts.hostname, parts.port))
    return s


def kept_alive(server) -> socket.socket:
    """A connection that made one request, read its whole answer, and sits idle (keep-alive)."""
    s = raw_connection(server.url)
    s.sendall(f"GET {urlsplit(server.url).path}/health HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.settimeout(5)
    answer = b""
    while b'{"status":"ok"}' not in answer:
        data = s.recv(4096)
        assert data
        answer += data
    return s


def stalled_subscriber(url: str, app_id: str, cls: str) -> socket.socket:
    """A LiveQuery client subscribed to `cls` that never reads again once subscribed: its
    receive window fills and the server's sends to it block."""
    s = raw_connection(url, rcvbuf=4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET {urlsplit(url).path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    s.sendall(client_frame(json.dumps({"op": "connect", "applicationId": app_id}).encode()))
    s.sendall(client_frame(json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": cls, "where": {}}}).encode()))
    s.settimeout(5)
    seen = b""
    while b'"subscribed"' not in seen:
        data = s.recv(4096)
        assert data, "the server closed the LiveQuery connection"
        seen += data
    return s


def wait_closed(s: socket.socket, timeout: float) -> bool:
    """Whether the server closed `s` (end of stream or reset) within `timeout`, reading on."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def close_watch(s: socket.socket) -> dict:
    """Read `s` on a thread until the server closes it; the dict gets "at" (monotonic time)."""
    seen: dict = {}

    def run() -> None:
        s.settimeout(None)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        seen["at"] = time.monotonic()

    threading.Thread(target=run, daemon=True).start()
    return seen
