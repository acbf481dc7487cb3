#!/usr/bin/env python3
"""REST throughput/latency benchmark for any Parse-compatible server (Parsnip or Parse Server).

What: drives three phases against ``/classes/<ClassName>`` on a loopback server, each for a
fixed duration at a fixed number of concurrent keep-alive connections:

* ``create`` -- ``POST /classes/X`` with a small GameScore-like body
  (``score`` int, ``playerName`` string, ``room`` one of 100 rooms, ``cheatMode`` bool);
* ``get``    -- ``GET /classes/X/<objectId>`` over the objects created so far;
* ``query``  -- ``GET /classes/X?where={"room":"room-N"}&limit=10`` (an equality query).

For each phase it reports requests/s, latency p50/p90/p99/max (ms) and the number of failed
requests (non-2xx, unparsable JSON, connection errors, timeouts) with the first failure, prints
a table and writes a JSON file with the results, the settings and a description of the machine.

Why it is written this way: the server, its database and this load generator share a small
machine, so the generator must spend as little CPU per request as possible or it, not the
server, becomes the bottleneck. A general-purpose async HTTP client costs several times more CPU
per request than a minimal HTTP/1.1 keep-alive client, so this file carries its own: one asyncio
``Protocol`` per connection, pre-encoded request bytes, and a parser that only understands a
status line, ``Content-Length`` / chunked bodies and ``Connection: close``. Load is spread over
several worker processes (``--procs``), each owning ``concurrency / procs`` connections; their
latency samples are merged in the parent. Every response is checked (status 200/201 and a JSON
body) so that errors are counted rather than hidden behind a high request rate.

``--session`` signs up one user per connection first (``--session-users``) and sends each
request with its user's ``X-Parse-Session-Token``; the objects carry no ACL (public), as in the
anonymous run, so the two compare. Each phase also reports the CPU of the server
(``--server-pid``) and of PostgreSQL, and a per-second series that ``plot.py`` draws.

Safety bounds: only loopback addresses are accepted, every phase stops after ``--duration``
seconds or ``--max-requests`` requests, each request times out after ``--timeout`` seconds, and
the benchmark class is purged and dropped at the end unless ``--keep-class`` is given.

Only the Python standard library is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import queue as queue_module
import random
import socket
import string
import sys
import time
import urllib.parse
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Shared helpers; re-exported names (Target, admin_request, ...) are used by other benchmarks.
from benchkit import (  # noqa: E402
    ResourceMeter, Target, User, admin_request, batch, busy_percent, check_health, cpu_times,
    default_procs, default_report_path, delete_users_and_roles, drop_class, latency_ms, loopback_target,
    machine_info, make_target, per_second, percentile, progress, server_info, sign_up_users,
    split_connections, write_report,
)

PHASES = ("create", "get", "query")
ROOMS = 100
SEED_OBJECTS = 1000  # created up front when "get"/"query" run without a "create" phase
ERROR_SAMPLE_BYTES = 300
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Settings and results
# --------------------------------------------------------------------------------------------


@dataclass
class WorkerJob:
    """One worker process's share of a phase."""

    phase: str
    target: Target
    connections: int
    warmup: float
    duration: float
    max_requests: int
    timeout: float
    seed: int
    object_ids: list[str] = field(default_factory=list)
    # Another benchmark's requests and checks (module-level functions, so they pickle by name);
    # None: this file's build_requests / check_response.
    build: Any = None
    check: Any = None
    # --session: one X-Parse-Session-Token per connection of this worker (cycled)
    session_tokens: list[str] = field(default_factory=list)


@dataclass
class WorkerResult:
    """What a worker sends back to the parent (latencies as packed doubles, in seconds)."""

    completed: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: bytes = b""
    measured_seconds: float = 0.0
    created_ids: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # generator CPU over warm-up + measurement
    wall_seconds: float = 0.0  # warm-up + measurement, wall clock
    issued: int = 0  # requests sent, warm-up included
    done_times: bytes = b""  # epoch seconds of each measured completion, parallel to latencies


@dataclass
class PhaseResult:
    """Merged figures for one phase."""

    phase: str
    requests: int
    errors: int
    seconds: float
    requests_per_second: float
    latency_ms: dict[str, float]
    first_error: str | None
    generator_cpu_percent: float
    generator_cpu_us_per_request: float
    system_cpu_busy_percent: float | None  # whole machine, all cores, during the phase
    resources: dict[str, Any] = field(default_factory=dict)  # server / postgres CPU and RSS
    per_second: list[dict[str, Any]] = field(default_factory=list)  # the plot's series


# --------------------------------------------------------------------------------------------
# Minimal HTTP/1.1 keep-alive client
# --------------------------------------------------------------------------------------------


class HttpError(Exception):
    """A failed exchange: transport error, malformed response or timeout."""


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time (no pipelining).

    ``request(raw)`` writes pre-encoded request bytes and resolves to ``(status, body)``.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.must_close = False
        # Parser state for the response in progress.
        self.status = 0
        self.body_length = -1  # -1: headers not parsed yet
        self.chunked = False
        self.body_start = 0

    # asyncio.Protocol callbacks ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection lost: {exc!r}" if exc else "connection closed by server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > MAX_RESPONSE_BYTES:
            self._fail(HttpError("response too large"))
            return
        try:
            self._parse()
        except HttpError as exc:
            self._fail(exc)

    # Request API --------------------------------------------------------------------------
    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.closed or self.transport is None:
            raise HttpError("connection is closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.status, self.body_length, self.chunked, self.body_start = 0, -1, False, 0
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    # Parsing ------------------------------------------------------------------------------
    def _parse(self) -> None:
        if self.waiter is None or self.waiter.done():
            if self.buffer:
                raise HttpError("unexpected data from server")
            return
        if self.body_length < 0 and not self.chunked and not self._parse_head():
            return
        body = self._take_chunked() if self.chunked else self._take_sized()
        if body is None:
            return
        self.waiter.set_result((self.status, body))
        if self.must_close:
            self.close()

    def _parse_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self.chunked = True
            elif name == b"connection" and b"close" in value.lower():
                self.must_close = True
        if not self.chunked:
            if length is None:
                raise HttpError("response has neither Content-Length nor chunked encoding")
            self.body_length = length
        self.body_start = end + 4
        return True

    def _take_sized(self) -> bytes | None:
        stop = self.body_start + self.body_length
        if len(self.buffer) < stop:
            return None
        body = bytes(self.buffer[self.body_start:stop])
        del self.buffer[:stop]
        return body

    def _take_chunked(self) -> bytes | None:
        """Decode a complete chunked body, or return None if more data is needed."""
        pos, parts = self.body_start, []
        while True:
            eol = self.buffer.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(self.buffer[pos:eol]).split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n\r\n", pos - 2)
                if trailer_end < 0:
                    return None
                del self.buffer[:trailer_end + 4]
                return b"".join(parts)
            if len(self.buffer) < pos + size + 2:
                return None
            parts.append(bytes(self.buffer[pos:pos + size]))
            pos += size + 2

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


async def open_connection(host: str, port: int) -> HttpConnection:
    """Open one keep-alive connection to host:port."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(HttpConnection, host, port)
    return protocol


def encode_request(target: Target, method: str, path: str, body: bytes | None = None) -> bytes:
    """Pre-encode one HTTP/1.1 request (headers, then body)."""
    lines = [f"{method} {target.mount}{path} HTTP/1.1", f"Host: {target.host}:{target.port}"]
    lines += [f"{name}: {value}" for name, value in target.load_headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


# --------------------------------------------------------------------------------------------
# Request generators, one per phase
# --------------------------------------------------------------------------------------------


def game_score(rng: random.Random) -> dict[str, Any]:
    """A small GameScore-like object."""
    return {
        "score": rng.randint(0, 100_000),
        "playerName": "player-" + "".join(rng.choices(string.ascii_lowercase, k=8)),
        "room": f"room-{rng.randrange(ROOMS)}",
        "cheatMode": rng.random() < 0.1,
    }


def build_requests(job: WorkerJob, rng: random.Random) -> list[bytes]:
    """Pre-encode a pool of requests for the phase; connections cycle through it."""
    target, cls = job.target, urllib.parse.quote(job.target.class_name)
    if job.phase == "create":
        return [encode_request(target, "POST", f"/classes/{cls}",
                               json.dumps(game_score(rng), separators=(",", ":")).encode())
                for _ in range(512)]
    if job.phase == "get":
        ids = list(job.object_ids)
        rng.shuffle(ids)
        return [encode_request(target, "GET", f"/classes/{cls}/{oid}") for oid in ids]
    if job.phase == "query":
        queries = []
        for room in range(ROOMS):
            where = urllib.parse.quote(json.dumps({"room": f"room-{room}"}, separators=(",", ":")))
            queries.append(encode_request(target, "GET", f"/classes/{cls}?where={where}&limit=10"))
        rng.shuffle(queries)
        return queries
    raise ValueError(f"unknown phase {job.phase!r}")


def check_response(phase: str, status: int, body: bytes) -> tuple[bool, Any]:
    """Return (ok, parsed JSON). A response is good if it is 200/201 with a JSON body
    of the expected shape for the phase."""
    if status not in (200, 201):
        return False, None
    try:
        doc = json.loads(body)
    except ValueError:
        return False, None
    if phase == "create":
        return isinstance(doc, dict) and "objectId" in doc, doc
    if phase == "get":
        return isinstance(doc, dict) and "objectId" in doc, doc
    return isinstance(doc, dict) and isinstance(doc.get("results"), list), doc


# --------------------------------------------------------------------------------------------
# Worker process
# --------------------------------------------------------------------------------------------


class WorkerState:
    """Counters shared by the connections of one worker process."""

    def __init__(self, job: WorkerJob, start: float) -> None:
        self.job = job
        self.measure_from = start + job.warmup
        self.deadline = self.measure_from + job.duration
        self.issued = 0
        self.result = WorkerResult()
        self.samples = array("d")
        self.done_times = array("d")
        self.last_done = self.measure_from
        self.epoch = time.time() - time.perf_counter()  # perf_counter -> epoch seconds

    def record_error(self, message: str, measured: bool) -> None:
        if measured:
            self.result.errors += 1
            if self.result.first_error is None:
                self.result.first_error = message[:ERROR_SAMPLE_BYTES]


async def drive_connection(state: WorkerState, requests: list[bytes], offset: int, token: str | None) -> None:
    """Send requests back to back on one connection until the deadline or the request cap;
    with a session token, every request carries it (added to the pre-encoded head)."""
    job, clock = state.job, time.perf_counter
    conn: HttpConnection | None = None
    index = offset
    header = f"\r\nX-Parse-Session-Token: {token}\r\n\r\n".encode("latin-1") if token else b""
    while True:
        now = clock()
        if now >= state.deadline or state.issued >= job.max_requests:
            break
        state.issued += 1
        raw = requests[index % len(requests)]
        if header:
            raw = raw.replace(b"\r\n\r\n", header, 1)
        index += 1
        try:
            if conn is None or conn.closed:
                conn = await asyncio.wait_for(open_connection(job.target.host, job.target.port), job.timeout)
            sent = clock()
            status, body = await asyncio.wait_for(conn.request(raw), job.timeout)
        except (OSError, HttpError, asyncio.TimeoutError) as exc:
            state.record_error(f"{type(exc).__name__}: {exc}", clock() >= state.measure_from)
            if conn is not None:
                conn.close()
            conn = None
            continue
        done = clock()
        measured = sent >= state.measure_from
        ok, doc = (job.check or check_response)(job.phase, status, body)
        if not ok:
            state.record_error(f"HTTP {status}: {body[:ERROR_SAMPLE_BYTES].decode('utf-8', 'replace')}", measured)
        elif measured:
            state.result.completed += 1
            state.samples.append(done - sent)
            state.done_times.append(state.epoch + done)
            state.last_done = max(state.last_done, done)
        if ok and job.phase == "create":
            state.result.created_ids.append(doc["objectId"])
    if conn is not None:
        conn.close()


async def report_ticks(state: WorkerState, ticks: Any, index: int) -> None:
    """Every second, this worker's measured completions and errors so far (progress lines)."""
    while True:
        await asyncio.sleep(1.0)
        ticks.put((index, state.result.completed, state.result.errors))


async def run_worker_async(job: WorkerJob, start_at: float, ticks: Any = None, index: int = 0) -> WorkerResult:
    """Wait for the common start time, run all connections, collect the result."""
    rng = random.Random(job.seed)
    requests = (job.build or build_requests)(job, rng)
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    cpu_start = time.process_time()
    state = WorkerState(job, time.perf_counter())
    step = max(1, len(requests) // max(1, job.connections))
    tokens = job.session_tokens
    ticker = asyncio.create_task(report_ticks(state, ticks, index)) if ticks is not None else None
    await asyncio.gather(*(drive_connection(state, requests, i * step, tokens[i % len(tokens)] if tokens else None)
                           for i in range(job.connections)))
    if ticker is not None:
        ticker.cancel()
    result = state.result
    result.cpu_seconds = time.process_time() - cpu_start
    result.wall_seconds = time.perf_counter() - state.measure_from + job.warmup
    result.issued = state.issued
    result.latencies = state.samples.tobytes()
    result.done_times = state.done_times.tobytes()
    result.measured_seconds = max(state.last_done, state.deadline) - state.measure_from
    return result


def worker_main(job: WorkerJob, start_at: float, queue: Any, ticks: Any = None, index: int = 0) -> None:
    """Entry point of a load-generator process; puts one WorkerResult on the queue."""
    try:
        result = asyncio.run(run_worker_async(job, start_at, ticks, index))
    except BaseException as exc:  # report, never hang the parent
        result = WorkerResult(errors=1, first_error=f"worker crashed: {exc!r}")
    queue.put(result)


# --------------------------------------------------------------------------------------------
# Phase orchestration (parent process)
# --------------------------------------------------------------------------------------------


def run_phase(phase: str, args: argparse.Namespace, target: Target,
              object_ids: list[str], build: Any = None, check: Any = None) -> tuple[PhaseResult, list[str]]:
    """Run one phase across worker processes; return merged figures and any created ids.
    `build`/`check`: another benchmark's requests and response check (cloud_bench.py)."""
    ctx = mp.get_context("spawn")
    queue, ticks = ctx.Queue(), ctx.Queue()
    shares = split_connections(args.concurrency, args.procs)
    cap = max(1, args.max_requests // len(shares))
    tokens: list[str] = getattr(args, "session_tokens", None) or []
    start_at = time.time() + 0.5 + 0.15 * len(shares)  # time for spawned interpreters to start
    procs = []
    first_conn = 0
    for i, connections in enumerate(shares):
        own = [tokens[(first_conn + c) % len(tokens)] for c in range(connections)] if tokens else []
        first_conn += connections
        offset = PHASES.index(phase) if phase in PHASES else sum(phase.encode()) % 10
        job = WorkerJob(phase, target, connections, args.warmup, args.duration, cap, args.timeout,
                        seed=args.seed * 1000 + 100 * offset + i, object_ids=object_ids, build=build, check=check,
                        session_tokens=own)
        proc = ctx.Process(target=worker_main, args=(job, start_at, queue, ticks, i), daemon=True)
        proc.start()
        procs.append(proc)
    hard_limit = start_at - time.time() + args.warmup + args.duration + args.timeout + 30
    time.sleep(max(0.0, start_at + args.warmup - time.time()))
    meter = ResourceMeter(getattr(args, "server_pid", None), getattr(args, "postgres_pid", None))
    meter.start()
    print_ticks(phase, ticks, start_at + args.warmup + args.duration)
    resources = meter.stop()
    resources["rss_mb"] = meter.rss_mb()
    results = collect_results(queue, len(procs), hard_limit)
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    merged, created = merge_results(phase, results, start_at + args.warmup)
    # the last bucket holds only requests sent before the deadline and answered after it
    merged.per_second = [row for row in merged.per_second if row["second"] < args.duration]
    merged.system_cpu_busy_percent = resources["machine_busy_percent"]
    merged.resources = resources
    return merged, created


def print_ticks(phase: str, ticks: Any, until: float) -> None:
    """Print the phase's rate and errors once a second until `until` (epoch seconds)."""
    latest: dict[int, tuple[int, int]] = {}
    started, shown = time.time(), 0
    while time.time() < until:
        try:
            index, completed, errors = ticks.get(timeout=max(0.01, until - time.time()))
        except queue_module.Empty:
            break
        latest[index] = (completed, errors)
        done, failed = sum(c for c, _ in latest.values()), sum(e for _, e in latest.values())
        if time.time() - started >= shown + 1:
            shown = int(time.time() - started)
            progress(started, f"{phase}: {done:,} requests measured ({done / max(time.time() - started, 1e-3):,.0f}/s), "
                              f"{failed} errors")
    time.sleep(max(0.0, until - time.time()))


def collect_results(queue: Any, count: int, limit: float) -> list[WorkerResult]:
    """Gather one result per worker, giving up (and counting an error) after `limit` seconds."""
    results, deadline = [], time.time() + limit
    for _ in range(count):
        try:
            results.append(queue.get(timeout=max(0.1, deadline - time.time())))
        except Exception:
            results.append(WorkerResult(errors=1, first_error="worker did not report in time"))
    return results


def merge_results(phase: str, results: list[WorkerResult], measure_from: float) -> tuple[PhaseResult, list[str]]:
    """Merge the workers' counters and latency samples into one PhaseResult."""
    samples, done_times = array("d"), array("d")
    for r in results:
        samples.frombytes(r.latencies)
        done_times.frombytes(r.done_times)
    latencies = sorted(samples)
    seconds = max((r.measured_seconds for r in results), default=0.0)
    completed = sum(r.completed for r in results)
    first_error = next((r.first_error for r in results if r.first_error), None)
    ms = {k: v or 0.0 for k, v in latency_ms(latencies).items()}
    cpu = sum(r.cpu_seconds for r in results)
    wall = max((r.wall_seconds for r in results), default=0.0) + 1e-9
    issued = sum(r.issued for r in results)
    result = PhaseResult(
        phase=phase, requests=completed, errors=sum(r.errors for r in results),
        seconds=round(seconds, 3), requests_per_second=round(completed / seconds, 1) if seconds else 0.0,
        latency_ms=ms, first_error=first_error,
        # CPU of the worker processes over warm-up + measurement, as % of one core.
        generator_cpu_percent=round(100 * cpu / wall, 1),
        generator_cpu_us_per_request=round(1e6 * cpu / issued, 1) if issued else 0.0,
        system_cpu_busy_percent=None, per_second=per_second(done_times, samples, measure_from))
    created = [oid for r in results for oid in r.created_ids]
    return result, created


# --------------------------------------------------------------------------------------------
# Setup / teardown over plain blocking HTTP (few requests, not measured)
# --------------------------------------------------------------------------------------------


def seed_objects(target: Target, count: int) -> list[str]:
    """Create `count` objects with /batch (50 per request) so get/query have data."""
    rng = random.Random(1)
    path = f"/classes/{urllib.parse.quote(target.class_name)}"
    answers = batch(target, [{"method": "POST", "path": path, "body": game_score(rng)} for _ in range(count)])
    return [item["success"]["objectId"] for item in answers if "success" in item]


def sign_up_load_users(args: argparse.Namespace, target: Target) -> list[User]:
    """--session: sign up the users whose session tokens the load requests carry (connection
    i uses user i mod N). Objects get no ACL, as in an anonymous run, so they are public and
    the two runs read the same rows; what differs is the session lookup and a user's ACL check."""
    prefix = f"{args.class_name.lower()}_u"
    print(f"signing up {args.session_users} users ...", flush=True)
    users = sign_up_users(target, args.session_users, prefix)
    args.session_tokens = [u.session_token for u in users]
    return users


# --------------------------------------------------------------------------------------------
# Machine description, CLI, output
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:1337/parse", help="server URL incl. mount path (loopback only)")
    parser.add_argument("--app-id", default="APP")
    parser.add_argument("--master-key", default="MASTER", help="used for setup/cleanup (and for load with --load-master-key)")
    parser.add_argument("--rest-key", default=None, help="X-Parse-REST-API-Key to send with load requests, if the server needs one")
    parser.add_argument("--load-master-key", action="store_true", help="send the master key with the benchmark requests too")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections (total over all processes)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--class-name", default=None, help="benchmark class (default BenchScore_<random>)")
    parser.add_argument("--procs", type=int, default=default_procs(), help="load-generator processes")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma list of create,get,query")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="cap on requests per phase")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    parser.add_argument("--seed", type=int, default=12345, help="random seed for request bodies and order")
    parser.add_argument("--keep-class", action="store_true", help="do not purge and drop the class at the end")
    parser.add_argument("--session", action="store_true",
                        help="sign up users first and send every request with a user's X-Parse-Session-Token")
    parser.add_argument("--session-users", type=int, default=None, help="users for --session (default: one per connection)")
    parser.add_argument("--server-pid", type=int, default=None, help="server pid, for its CPU and RSS (children included)")
    parser.add_argument("--postgres-pid", type=int, default=None,
                        help="postmaster pid for PostgreSQL's CPU and RSS (default: the lowest local postmaster)")
    parser.add_argument("--label", default=None, help="free text stored in the JSON (e.g. 'parsnip abc123')")
    parser.add_argument("--json-out", default=None, help="output file (default benchmarks/results/rest-<timestamp>.json)")
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    bad = [p for p in args.phases if p not in PHASES]
    if bad or not args.phases:
        parser.error(f"unknown phase(s) {bad}; choose from {','.join(PHASES)}")
    if args.concurrency < 1 or args.procs < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency and --procs must be >= 1, --duration > 0, --warmup >= 0")
    if args.class_name is None:
        args.class_name = "BenchScore_" + "".join(random.choices(string.ascii_letters + string.digits, k=8))
    if args.session_users is None:
        args.session_users = args.concurrency
    if args.server_pid is not None and not Path(f"/proc/{args.server_pid}").exists():
        parser.error(f"no process {args.server_pid}")
    if args.json_out is None:
        args.json_out = default_report_path("rest-session" if args.session else "rest")
    return args


def format_table(results: list[PhaseResult]) -> str:
    """Fixed-width table of the phase results."""
    head = f"{'phase':<8}{'req/s':>10}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'gen cpu%':>10}{'box cpu%':>10}"
    rows = [head, "-" * len(head)]
    for r in results:
        ms = r.latency_ms
        rows.append(f"{r.phase:<8}{r.requests_per_second:>10.1f}{r.requests:>10}{r.errors:>8}"
                    f"{ms['p50']:>9.2f}{ms['p90']:>9.2f}{ms['p99']:>9.2f}{ms['max']:>9.2f}{r.generator_cpu_percent:>10.1f}{fmt_opt(r.system_cpu_busy_percent):>10}")
    return "\n".join(rows)


def fmt_opt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def settings_dict(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    keys = ("url", "app_id", "concurrency", "duration", "warmup", "procs", "phases", "class_name",
            "max_requests", "timeout", "seed", "load_master_key", "session", "server_pid", "postgres_pid", "label")
    settings = {k: getattr(args, k) for k in keys}
    settings["load_headers"] = sorted(target.load_headers)
    if args.session:
        settings["session_users"] = args.session_users
        settings["session_acl"] = "objects carry no ACL (public), as in the anonymous run"
    return settings


def main(argv: list[str] | None = None) -> int:
    """Run the selected phases and write the JSON report; returns a process exit code."""
    args = parse_args(argv)
    target = make_target(args)
    check_health(target, args.url)
    info = server_info(target)
    print(f"target {args.url} {info.get('parseServerVersion') or ''} class {args.class_name}; "
          f"concurrency {args.concurrency} over {args.procs} process(es), {args.warmup:g}s warm-up + "
          f"{args.duration:g}s per phase" + (f"; {args.session_users} logged-in users" if args.session else ""),
          flush=True)
    object_ids: list[str] = []
    results: list[PhaseResult] = []
    users: list[User] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    machine = machine_info()
    try:
        if args.session:
            users = sign_up_load_users(args, target)
        if "create" not in args.phases:
            print(f"seeding {SEED_OBJECTS} objects ...", flush=True)
            object_ids = seed_objects(target, SEED_OBJECTS)
        for phase in args.phases:
            if phase in ("get", "query") and not object_ids:
                object_ids = seed_objects(target, SEED_OBJECTS)
            print(f"phase {phase} ...", flush=True)
            result, created = run_phase(phase, args, target, object_ids)
            object_ids += created
            results.append(result)
            print(f"  {phase}: {result.requests_per_second:.1f} req/s, p99 {result.latency_ms['p99']:.1f} ms, "
                  f"{result.errors} errors" + (f" (first: {result.first_error})" if result.first_error else ""),
                  flush=True)
    finally:
        if not args.keep_class:
            drop_class(target)
        if users:
            delete_users_and_roles(target, users)
    print()
    print(format_table(results))
    report = {
        "benchmark": "rest_bench",
        "started": started,
        "server": info,
        "settings": settings_dict(args, target),
        "machine": machine,
        "results": [asdict(r) for r in results],
    }
    write_report(args.json_out, report)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
