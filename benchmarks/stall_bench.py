#!/usr/bin/env python3
"""Stall benchmark: does one expensive request hold up everyone else on the node?

What: a steady stream of small GETs (`--probers` keep-alive connections, each sending
`GET /classes/StallProbe/<id>` and pausing `--interval` seconds between answers) runs the whole
time, while each scenario sends one expensive request:

* ``add-unique-40k``  -- ``PUT`` with ``AddUnique`` of 40,000 pointers to a fresh object;
* ``remove-20k``      -- ``PUT`` with ``Remove`` of 20,000 pointers from an array of 20,000;
* ``body-20mb``       -- ``POST`` of a 20,000,000-byte body (an array of ~700,000 small objects);
* ``deep-where``      -- ``GET`` with ``$or`` nested 49 deep (the deepest a where may be);
* ``deep-where-300``  -- ``GET`` with ``$or`` nested 300 deep (refused);
* ``livequery-regex`` -- a LiveQuery subscription ``{"name": {"$regex": "^(a+)+$"}}``, then one
  create whose name is `--lq-subject` (28 a's and a "!", which that pattern backtracks on).

For each scenario it reports the expensive request's own time and status, and the worst and p99
latency of the GETs answered while it ran (from its start until `--after` seconds after its
answer; a GET sent in that window is waited for), beside the GETs' p99 just before. Target:
worst GET latency under 2 s for every scenario.

How: with `--url` it measures a running server (Parsnip or Parse Server, LiveQuery on the same
port); without, it starts Parsnip (`python -m api.cli`, LiveQuery on) on a fresh database it
creates in `--database-uri` and drops at the end. Output: progress lines, a table, and a JSON
report (results, settings, machine) under ``benchmarks/results/``.

Safety bounds: loopback addresses only; every scenario is bounded by `--cap` seconds (a server
still stalled then is reported as such and the remaining scenarios are skipped); each GET times
out after `--timeout` seconds. Only the Python standard library is needed to measure a running
server (starting Parsnip needs the repository's environment).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import livequery_bench as lb  # noqa: E402  (websocket framing)
import parsnip_process  # noqa: E402  (the server started)
import rest_bench as rb  # noqa: E402  (HTTP client, machine info, helpers)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("add-unique-40k", "remove-20k", "body-20mb", "deep-where", "deep-where-300", "livequery-regex")
PROBE_CLASS, TARGET_CLASS, LIVE_CLASS = "StallProbe", "StallTarget", "StallLive"
TARGET_MS = 2000.0


@dataclass
class Sample:
    sent: float
    done: float
    ok: bool

    @property
    def latency(self) -> float:
        return self.done - self.sent


@dataclass
class ScenarioResult:
    scenario: str
    request_seconds: float | None  # the expensive request's own time
    request_status: int | str | None
    gets: int  # GETs answered in the window
    get_errors: int
    worst_ms: float
    p99_ms: float
    p50_ms: float
    before_p99_ms: float  # GETs in the `--before` seconds before the request
    window_seconds: float
    met_target: bool
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- the probing stream -------------------------------------------------------------------------

class Probers:
    """`count` closed-loop GET streams, each on its own keep-alive connection."""

    def __init__(self, target: rb.Target, object_id: str, count: int, interval: float, timeout: float) -> None:
        self.request = rb.encode_request(target, "GET", f"/classes/{PROBE_CLASS}/{object_id}")
        self.target, self.count, self.interval, self.timeout = target, count, interval, timeout
        self.samples: list[Sample] = []
        self.in_flight: dict[int, float] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        for i in range(self.count):
            self._tasks.append(asyncio.create_task(self._run(i)))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, i: int) -> None:
        conn = None
        while not self._stop.is_set():
            if conn is None or conn.closed:
                conn = await rb.open_connection(self.target.host, self.target.port)
            sent = time.monotonic()
            self.in_flight[i] = sent
            ok = False
            try:
                status, _ = await asyncio.wait_for(conn.request(self.request), self.timeout)
                ok = status == 200
            except (asyncio.TimeoutError, rb.HttpError, OSError):
                conn.close()
                conn = None
            self.in_flight.pop(i, None)
            self.samples.append(Sample(sent, time.monotonic(), ok))
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    async def settle(self, until: float, cap: float) -> None:
        """Wait until every GET sent before `until` is answered (at most until `cap`)."""
        while any(sent <= until for sent in self.in_flight.values()) and time.monotonic() < cap:
            await asyncio.sleep(0.02)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# -- the expensive requests -----------------------------------------------------------------------

async def _http(target: rb.Target, method: str, path: str, body: bytes | None, timeout: float,
                master: bool = True) -> tuple[int, bytes]:
    headers = dict(target.load_headers)
    if master:
        headers["X-Parse-Master-Key"] = target.master_key
    t = rb.Target(target.host, target.port, target.mount, target.app_id, target.master_key, target.class_name, headers)
    conn = await rb.open_connection(target.host, target.port)
    try:
        return await asyncio.wait_for(conn.request(rb.encode_request(t, method, path, body)), timeout)
    finally:
        conn.close()


def _pointers(n: int, prefix: str) -> list[dict]:
    return [{"__type": "Pointer", "className": PROBE_CLASS, "objectId": f"{prefix}{i:07d}"} for i in range(n)]


def _or_nested(depth: int) -> dict:
    where: dict = {"n": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


def _big_body(size: int) -> bytes:
    item = b'{"n":1234567,"s":"abcdefghij"},'
    count = (size - 12) // len(item)
    return b'{"items":[' + item * (count - 1) + item[:-1] + b"]}"


async def _subscribe(target: rb.Target, where: dict, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A LiveQuery connection with one subscription (handshake, connect, subscribe, both acks)."""
    reader, writer = await asyncio.open_connection(target.host, target.port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    writer.write((f"GET {target.mount or '/'} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"websocket upgrade refused: {head[:200]!r}")
    for message in ({"op": "connect", "applicationId": target.app_id, "masterKey": target.master_key},
                    {"op": "subscribe", "requestId": 1, "query": {"className": LIVE_CLASS, "where": where}}):
        writer.write(lb.client_frame(json.dumps(message).encode()))
    for expected in (b'"connected"', b'"subscribed"'):
        frame = await asyncio.wait_for(_read_frame(reader), timeout)
        if expected not in frame:
            raise RuntimeError(f"LiveQuery answered {frame[:200]!r}, expected {expected!r}")
    return reader, writer


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(length)


Expensive = Callable[[], Awaitable[tuple[int | str, dict[str, Any]]]]


async def prepare(name: str, target: rb.Target, args: argparse.Namespace) -> tuple[Expensive, Callable[[], Awaitable[None]]]:
    """(the expensive request, a cleanup) for a scenario; setup work happens here, unmeasured."""
    timeout = args.cap

    async def nothing() -> None:
        return None

    async def create_target(body: dict) -> str:
        status, raw = await _http(target, "POST", f"/classes/{TARGET_CLASS}", json.dumps(body).encode(), timeout)
        if status != 201:
            raise RuntimeError(f"setup failed: HTTP {status}: {raw[:200]!r}")
        return json.loads(raw)["objectId"]

    if name == "add-unique-40k":
        oid = await create_target({"list": []})
        body = json.dumps({"list": {"__op": "AddUnique", "objects": _pointers(40_000, "a")}}).encode()

        async def run() -> tuple[int | str, dict[str, Any]]:
            status, _ = await _http(target, "PUT", f"/classes/{TARGET_CLASS}/{oid}", body, timeout)
            return status, {"body_bytes": len(body)}
        return run, nothing
    if name == "remove-20k":
        oid = await create_target({"list": []})
        items = _pointers(20_000, "r")
        status, raw = await _http(target, "PUT", f"/classes/{TARGET_CLASS}/{oid}",
                                  json.dumps({"list": {"__op": "Add", "objects": items}}).encode(), timeout)
        if status != 200:
            raise RuntimeError(f"setup failed: HTTP {status}: {raw[:200]!r}")
        body = json.dumps({"list": {"__op": "Remove", "objects": items}}).encode()

        async def run() -> tuple[int | str, dict[str, Any]]:
            status, _ = await _http(target, "PUT", f"/classes/{TARGET_CLASS}/{oid}", body, timeout)
            return status, {"body_bytes": len(body)}
        return run, nothing
    if name == "body-20mb":
        body = _big_body(args.body_bytes)

        async def run() -> tuple[int | str, dict[str, Any]]:
            status, _ = await _http(target, "POST", f"/classes/{TARGET_CLASS}", body, timeout)
            return status, {"body_bytes": len(body)}
        return run, nothing
    if name in ("deep-where", "deep-where-300"):
        depth = 49 if name == "deep-where" else 300
        query = urllib.parse.urlencode({"where": json.dumps(_or_nested(depth))})

        async def run() -> tuple[int | str, dict[str, Any]]:
            status, _ = await _http(target, "GET", f"/classes/{PROBE_CLASS}?{query}", None, timeout, master=False)
            return status, {"depth": depth}
        return run, nothing
    if name == "livequery-regex":
        reader, writer = await _subscribe(target, {"name": {"$regex": "^(a+)+$"}}, 10)
        body = json.dumps({"name": args.lq_subject}).encode()

        async def run() -> tuple[int | str, dict[str, Any]]:
            status, _ = await _http(target, "POST", f"/classes/{LIVE_CLASS}", body, timeout)
            return status, {"subject": args.lq_subject}

        async def close() -> None:
            writer.close()
        return run, close
    raise SystemExit(f"unknown scenario {name}")


# -- one scenario ------------------------------------------------------------------------------------

async def measure(name: str, target: rb.Target, probers: Probers, args: argparse.Namespace) -> ScenarioResult:
    run, cleanup = await prepare(name, target, args)
    await asyncio.sleep(args.before)
    start = time.monotonic()
    cap = start + args.cap
    status: int | str | None
    extra: dict[str, Any] = {}
    try:
        status, extra = await asyncio.wait_for(run(), args.cap)
        took: float | None = time.monotonic() - start
    except (asyncio.TimeoutError, rb.HttpError, OSError) as exc:
        status, took = f"{type(exc).__name__}", None
    answered = time.monotonic()
    await asyncio.sleep(args.after)
    end = time.monotonic()
    await probers.settle(end, cap + args.timeout)
    await cleanup()
    window = [s for s in probers.samples if s.sent <= end and s.done >= start]
    before = sorted(s.latency for s in probers.samples if start - args.before <= s.sent and s.done < start)
    latencies = sorted(s.latency for s in window)
    stuck = [now - sent for sent in probers.in_flight.values() if sent <= end for now in [time.monotonic()]]
    worst = max([*latencies, *stuck], default=0.0)
    note = "GETs still unanswered at the cap" if stuck else ""
    return ScenarioResult(
        scenario=name, request_seconds=None if took is None else round(took, 3), request_status=status,
        gets=len(latencies), get_errors=sum(1 for s in window if not s.ok), worst_ms=_ms(worst),
        p99_ms=_ms(rb.percentile(latencies, 0.99)), p50_ms=_ms(rb.percentile(latencies, 0.5)),
        before_p99_ms=_ms(rb.percentile(before, 0.99)), window_seconds=round(end - start, 2),
        met_target=worst * 1000 < TARGET_MS and not stuck, note=note, extra={**extra, "answered_after": round(answered - start, 3)})


# -- the server ------------------------------------------------------------------------------------------

@dataclass
class Started:
    server: parsnip_process.Server
    database: str
    admin_dsn: str


def _psql(admin_dsn: str, sql: str) -> None:
    code = ("import asyncio, asyncpg, sys\n"
            "async def main():\n"
            "    c = await asyncpg.connect(sys.argv[1])\n"
            "    await c.execute(sys.argv[2])\n"
            "    await c.close()\n"
            "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", code, admin_dsn, sql], check=True, cwd=ROOT)


def start_parsnip(args: argparse.Namespace) -> tuple[str, Started]:
    """Parsnip with LiveQuery on a fresh database; its URL and what to stop afterwards."""
    database = "stall_" + secrets.token_hex(5)
    _psql(args.database_uri, f'CREATE DATABASE "{database}"')
    dsn = urllib.parse.urlsplit(args.database_uri)._replace(path="/" + database).geturl()
    server = parsnip_process.start(dsn, args.app_id, args.master_key,
                                   ["--startLiveQueryServer", "--liveQuery", json.dumps({"classNames": [".*"]})],
                                   log_prefix="stall-bench-server-", timeout=60)
    return server.url, Started(server, database, args.database_uri)


def stop_parsnip(started: Started) -> None:
    started.server.stop()
    _psql(started.admin_dsn, f'DROP DATABASE IF EXISTS "{started.database}" WITH (FORCE)')


# -- main -----------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--url", help="a running server's URL (loopback); without it, Parsnip is started")
    p.add_argument("--app-id", default="STALL")
    p.add_argument("--master-key", default="STALL-MASTER")
    p.add_argument("--database-uri", default=os.environ.get("PARSNIP_TEST_DATABASE_URI",
                                                            "postgres://postgres@127.0.0.1:5432/test"),
                   help="PostgreSQL where a database for the started Parsnip is created (and dropped)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list, in order")
    p.add_argument("--probers", type=int, default=4, help="GET streams (connections)")
    p.add_argument("--interval", type=float, default=0.02, help="seconds each stream pauses between GETs")
    p.add_argument("--before", type=float, default=2.0, help="seconds of plain GETs before each request")
    p.add_argument("--after", type=float, default=2.0, help="seconds the window runs after the request's answer")
    p.add_argument("--cap", type=float, default=60.0, help="seconds a scenario may take at most")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a GET counts as failed")
    p.add_argument("--body-bytes", type=int, default=20_000_000, help="size of the body-20mb request")
    p.add_argument("--lq-subject", default="a" * 28 + "!", help="the name written in the livequery-regex scenario")
    p.add_argument("--label", default=None)
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in args.scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s!r}; choose among {', '.join(SCENARIOS)}")
    args.json_out = args.json_out or str(ROOT / "benchmarks" / "results" / f"stall-{time.strftime('%Y%m%d-%H%M%S')}.json")
    return args


def format_table(results: list[ScenarioResult]) -> str:
    rows = [("scenario", "request s", "status", "GETs", "worst ms", "p99 ms", "before p99", "< 2 s")]
    for r in results:
        rows.append((r.scenario, "-" if r.request_seconds is None else f"{r.request_seconds:.2f}", str(r.request_status),
                     str(r.gets), f"{r.worst_ms:.0f}", f"{r.p99_ms:.0f}", f"{r.before_p99_ms:.0f}",
                     "yes" if r.met_target else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)


async def run(args: argparse.Namespace, url: str) -> list[ScenarioResult]:
    host, port, mount = rb.loopback_target(url)
    target = rb.Target(host, port, mount, args.app_id, args.master_key, PROBE_CLASS,
                       {"X-Parse-Application-Id": args.app_id})
    status, raw = await _http(target, "POST", f"/classes/{PROBE_CLASS}", b'{"n":1,"name":"probe"}', 30)
    if status != 201:
        raise SystemExit(f"cannot create the probe object: HTTP {status}: {raw[:200]!r}")
    probers = Probers(target, json.loads(raw)["objectId"], args.probers, args.interval, args.timeout)
    await probers.start()
    results: list[ScenarioResult] = []
    try:
        for name in args.scenarios:
            print(f"{name} ...", end=" ", flush=True)
            result = await measure(name, target, probers, args)
            results.append(result)
            print(f"request {result.request_seconds}s ({result.request_status}), GETs worst {result.worst_ms:.0f} ms, "
                  f"p99 {result.p99_ms:.0f} ms over {result.gets}" + (f"; {result.note}" if result.note else ""),
                  flush=True)
            if result.note:
                print("the server is still stalled; skipping the remaining scenarios", flush=True)
                break
    finally:
        await probers.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = None
    url = args.url
    if url is None:
        print("starting Parsnip (LiveQuery on) on a fresh database ...", flush=True)
        url, started = start_parsnip(args)
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print(f"target {url}; {args.probers} GET streams every {args.interval * 1000:.0f} ms; "
          f"scenarios: {', '.join(args.scenarios)}", flush=True)
    try:
        results = asyncio.run(run(args, url))
    finally:
        if started is not None:
            stop_parsnip(started)
    print()
    print(format_table(results))
    report = {
        "benchmark": "stall_bench",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "label": args.label,
        "target_worst_ms": TARGET_MS,
        "settings": {k: v for k, v in vars(args).items() if k not in ("master_key",)},
        "server": url if started is None else "parsnip started by the benchmark",
        "machine": rb.machine_info(),
        "load_average_at_start": load_at_start,
        "results": [asdict(r) for r in results],
    }
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0 if results and all(r.met_target for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
