#!/usr/bin/env python3
"""LiveQuery fan-out benchmark: subscriptions, writes, and how fast and how completely the
events reach the subscribers.

S subscriptions (`--subs`) over C websocket connections (`--conns`), split over R rooms
(`--rooms`; each subscription is `where room == "room-k"`; `--rooms 1` is the broadcast case:
every subscription on one query). Once every subscription is confirmed, W writes per second
(`--rate`) are POSTed for `--duration` seconds, open loop (on a fixed schedule, whatever the
deliveries do), round robin over the rooms; each object carries `t0`, the wall-clock time its
write was scheduled for (a write waiting for a free connection has started all the same). Reported: deliveries/s, the delay from t0 to receipt (p50, p99,
p999, max), missed deliveries (each write is owed to every subscription of its room; what has
not arrived `--grace` seconds after the last write is missed), duplicates, and the server's
RSS per subscription (`--server-pid`, the process and its children). `--idle` only subscribes
and reports memory and how long subscribing took.

Only the Parse protocol is spoken (REST + LiveQuery), so `--url` can point at Parse Server
or at Parsnip. Standard library only: receivers are `--procs` processes of asyncio with a
minimal websocket client that reads `t0` and `requestId` from each event without decoding the
whole message; writes go over raw keep-alive HTTP/1.1 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import platform
import re
import secrets
import struct
import sys
import time
from array import array
from urllib.parse import urlsplit

_T0 = re.compile(rb'"t0":([0-9.eE+-]+)')
_RID = re.compile(rb'"requestId":([0-9]+)')
_OP = re.compile(rb'^\{"op":"([a-z]+)"')


# -- a minimal websocket client --------------------------------------------------------------

async def ws_open(url: str):
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80, limit=1 << 24)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"websocket upgrade refused: {head[:200]!r}")
    return reader, writer


def ws_frame(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    mask = os.urandom(4)
    head = bytes((0x81,)) + (bytes((0x80 | n,)) if n < 126 else struct.pack("!BH", 0x80 | 126, n)
                             if n < 65536 else struct.pack("!BQ", 0x80 | 127, n))
    masked = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return head + mask + masked


async def ws_messages(reader, writer):
    """Yield each text message's bytes (answers pings; ends when the server closes)."""
    while True:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(n) if n else b""
        opcode = b0 & 0x0F
        if opcode == 0x9:  # ping -> pong (masked, as a client must)
            mask = os.urandom(4)
            writer.write(bytes((0x8A, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        elif opcode == 0x8:
            return
        elif opcode in (0x1, 0x2, 0x0):
            yield payload


# -- receivers --------------------------------------------------------------------------------

def receiver_main(args: dict, conn_ids: list[int], pipe, counters) -> None:
    try:
        import uvloop  # type: ignore
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_receiver(args, conn_ids, pipe, counters))


async def _receiver(args: dict, conn_ids: list[int], pipe, counters) -> None:
    S, C = args["subs"], args["conns"]
    delays = array("d")
    received: dict[int, int] = {}
    errors: list[str] = []
    ready = 0
    sockets = []
    loop = asyncio.get_running_loop()
    t_start = time.time()

    async def one(c: int) -> None:
        nonlocal ready
        reader, writer = await ws_open(args["ws_url"])
        sockets.append(writer)
        connect = {"op": "connect", "applicationId": args["app_id"]}
        if args.get("lq_master_key"):
            connect["masterKey"] = args["lq_master_key"]
        writer.write(ws_frame(json.dumps(connect)))
        mine = list(range(c, S, C))  # subscription ids (= requestIds) of this connection
        messages = ws_messages(reader, writer)
        first = await messages.__anext__()
        if b'"connected"' not in first:
            errors.append(first[:200].decode(errors="replace"))
            return
        batch = b"".join(ws_frame(json.dumps({"op": "subscribe", "requestId": rid + 1, "query": {
            "className": args["class_name"], "where": {"room": f"room-{rid % args['rooms']}"}}})) for rid in mine)
        writer.write(batch)
        await writer.drain()
        pending = len(mine)
        async for msg in messages:
            if msg.startswith(b'{"op":"subscribed"'):
                pending -= 1
                if pending == 0:
                    ready += 1
                    counters[1] += len(mine)
                continue
            m = _OP.match(msg)
            op = m.group(1) if m else b""
            if op in (b"create", b"enter", b"update"):
                t0 = _T0.search(msg)
                rid = _RID.search(msg)
                if t0 and rid:
                    delays.append(time.time() - float(t0.group(1)))
                    r = int(rid.group(1))
                    received[r] = received.get(r, 0) + 1
                    counters[0] += 1
            elif op == b"error":
                errors.append(msg[:300].decode(errors="replace"))

    tasks = [loop.create_task(one(c)) for c in conn_ids]
    while ready < len(conn_ids) and not errors:
        await asyncio.sleep(0.05)
        if any(t.done() and t.exception() for t in tasks):
            break
    failed = [repr(t.exception()) for t in tasks if t.done() and t.exception()]
    pipe.send(("ready", time.time() - t_start, errors[:5] + failed[:5]))
    await loop.run_in_executor(None, pipe.recv)  # "stop", after the writes and the grace period
    for t in tasks:
        t.cancel()
    pipe.send(("done", delays.tobytes(), received, errors[:20]))


# -- writes --------------------------------------------------------------------------------------

class Http:
    """A keep-alive HTTP/1.1 connection (enough for Parse's JSON answers)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.base = parts.hostname, parts.port or 80, parts.path.rstrip("/")
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        try:
            return await self._request(method, path, body)
        except (asyncio.IncompleteReadError, ConnectionError):  # the server closed an idle connection
            self.writer = None
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        data = b"" if body is None else json.dumps(body).encode()
        self.writer.write((f"{method} {self.base}{path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
                           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        return status, await self.reader.readexactly(length)


async def run_writes(args, http_pool: list[Http], progress, latencies: list[float]) -> tuple[int, int, list[int]]:
    """POST `rate` objects a second for `duration` seconds on a fixed schedule."""
    interval = 1.0 / args.rate
    total = int(args.rate * args.duration)
    free: asyncio.Queue[Http] = asyncio.Queue()
    for h in http_pool:
        free.put_nowait(h)
    failures = 0
    per_room = [0] * args.rooms
    late = 0

    async def write(i: int, t0: float) -> None:
        nonlocal failures
        h = await free.get()  # waiting here (every connection busy) counts in the delay
        try:
            sent = time.time()
            status, _ = await h.request("POST", f"/classes/{args.class_name}",
                                        {"room": f"room-{i % args.rooms}", "i": i, "t0": t0})
            latencies.append(time.time() - sent)
            if status != 201:
                failures += 1
        except Exception:
            failures += 1
            h.writer = None
        finally:
            free.put_nowait(h)

    start = time.monotonic() + 0.05
    wall = time.time() - time.monotonic()  # t0 is the write's scheduled start, in wall-clock time
    tasks = []
    for i in range(total):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        per_room[i % args.rooms] += 1
        tasks.append(asyncio.create_task(write(i, wall + start + i * interval)))
        progress(i + 1)
    await asyncio.gather(*tasks)
    return total, failures, per_room


# -- orchestration ---------------------------------------------------------------------------

def rss_kb(pid: int | None) -> int | None:
    if not pid:
        return None
    total = 0
    pids = [pid]
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def percentile(sorted_values, q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def machine() -> dict:
    model = ""
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": sys.version.split()[0],
            "platform": platform.platform(), "loadavg": os.getloadavg()}


async def setup(args) -> list[Http]:
    headers = {"X-Parse-Application-Id": args.app_id, "X-Parse-Master-Key": args.master_key}
    pool = [Http(args.url, headers) for _ in range(args.write_conns)]
    status, body = await pool[0].request("POST", f"/classes/{args.class_name}", {"room": "setup", "t0": 0})
    if status != 201:
        raise SystemExit(f"could not create the class: {status} {body[:200]!r}")
    return pool


async def cleanup(args, pool: list[Http]) -> None:
    if args.keep_class:
        return
    await pool[0].request("DELETE", f"/purge/{args.class_name}")
    await pool[0].request("DELETE", f"/schemas/{args.class_name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:1337/parse", help="the server's REST URL")
    p.add_argument("--ws-url", help="LiveQuery URL (default: --url with ws://)")
    p.add_argument("--app-id", default="APP")
    p.add_argument("--master-key", default="MASTER", help="for setup, cleanup and the writes")
    p.add_argument("--lq-master-key", help="send this masterKey in the LiveQuery connect")
    p.add_argument("--subs", type=int, default=5000, help="subscriptions in all")
    p.add_argument("--conns", type=int, default=50, help="websocket connections")
    p.add_argument("--rooms", type=int, default=100, help="distinct queries (1: broadcast)")
    p.add_argument("--rate", type=float, default=100, help="writes per second")
    p.add_argument("--duration", type=float, default=20, help="seconds of writes")
    p.add_argument("--grace", type=float, default=5, help="seconds to wait for deliveries after the last write")
    p.add_argument("--procs", type=int, default=2, help="receiver processes")
    p.add_argument("--write-conns", type=int, default=64, help="keep-alive HTTP connections for the writes")
    p.add_argument("--idle", action="store_true", help="only subscribe: memory and time to subscribe")
    p.add_argument("--server-pid", type=int, help="the server's pid, for its RSS (children included)")
    p.add_argument("--class-name", help="default: a fresh LQBench_<random>")
    p.add_argument("--keep-class", action="store_true")
    p.add_argument("--label", default="")
    p.add_argument("--json-out", help="write the report here")
    args = p.parse_args()
    args.class_name = args.class_name or "LQBench_" + secrets.token_hex(4)
    args.ws_url = args.ws_url or args.url.replace("http://", "ws://").replace("https://", "wss://")
    report = asyncio.run(_main(args))
    print(json.dumps(report["results"], indent=2))
    if args.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.json_out}")


async def _main(args) -> dict:
    pool = await setup(args)
    rss_before = rss_kb(args.server_pid)
    counters = mp.Array("q", 2, lock=False)  # deliveries, subscriptions confirmed
    shared = {k: getattr(args, k) for k in ("subs", "conns", "rooms", "app_id", "ws_url", "class_name", "lq_master_key")}
    procs, pipes = [], []
    for i in range(args.procs):
        mine = list(range(i, args.conns, args.procs))
        parent, child = mp.Pipe()
        proc = mp.get_context("fork").Process(target=receiver_main, args=(shared, mine, child, counters), daemon=True)
        proc.start()
        procs.append(proc)
        pipes.append(parent)
    t_sub = time.time()
    loop = asyncio.get_running_loop()
    while not all(pp.poll() for pp in pipes):
        await asyncio.sleep(0.5)
        print(f"  subscribing: {counters[1]:,} / {args.subs:,} confirmed", flush=True)
    ready = [pp.recv() for pp in pipes]
    subscribe_seconds = time.time() - t_sub
    errors = [e for r in ready for e in r[2]]
    if errors:
        print("errors while subscribing:", errors[:5], flush=True)
    await asyncio.sleep(1)
    rss_subscribed = rss_kb(args.server_pid)
    results = {"subscriptions": counters[1], "subscribe_seconds": round(subscribe_seconds, 2),
               "server_rss_kb_before": rss_before, "server_rss_kb_subscribed": rss_subscribed}
    if rss_before is not None and rss_subscribed is not None and counters[1]:
        results["server_rss_bytes_per_subscription"] = round((rss_subscribed - rss_before) * 1024 / counters[1])
    if not args.idle:
        sent = [0]
        stop_progress = asyncio.Event()

        async def progress_loop() -> None:
            last, t = 0, time.time()
            while not stop_progress.is_set():
                await asyncio.sleep(1)
                now = time.time()
                d = counters[0]
                print(f"  writes sent {sent[0]:,}  deliveries {d:,}  ({(d - last) / (now - t):,.0f}/s)", flush=True)
                last, t = d, now

        ticker = asyncio.create_task(progress_loop())
        t_write = time.time()
        write_latencies: list[float] = []
        total, failures, per_room = await run_writes(args, pool, lambda n: sent.__setitem__(0, n), write_latencies)
        write_latencies.sort()
        write_seconds = time.time() - t_write
        await asyncio.sleep(args.grace)
        stop_progress.set()
        await ticker
        rss_after = rss_kb(args.server_pid)
        for pp in pipes:
            pp.send("stop")
        done = [await loop.run_in_executor(None, pp.recv) for pp in pipes]
        delays = array("d")
        received: dict[int, int] = {}
        for _, raw, got, errs in done:
            delays.frombytes(raw)
            received.update(got)
            errors += errs
        delays = sorted(delays)
        expected = missed = dups = 0
        for sid in range(args.subs):
            owed = per_room[sid % args.rooms]
            got = received.get(sid + 1, 0)
            expected += owed
            missed += max(0, owed - got)
            dups += max(0, got - owed)
        span = write_seconds + args.grace
        results.update({
            "writes": total, "write_failures": failures, "write_seconds": round(write_seconds, 2),
            "deliveries_expected": expected, "deliveries": len(delays), "missed": missed, "duplicates": dups,
            "deliveries_per_second": round(len(delays) / write_seconds) if write_seconds else None,
            "delay_ms": {k: (round(v * 1000, 1) if v is not None else None) for k, v in (
                ("p50", percentile(delays, 0.50)), ("p99", percentile(delays, 0.99)),
                ("p999", percentile(delays, 0.999)), ("max", delays[-1] if delays else None))},
            # The POST's own round trip (sent to answered): the part of the delay that is the write.
            "write_ms": {k: round(percentile(write_latencies, q) * 1000, 1) for k, q in (("p50", 0.5), ("p99", 0.99))}
            if write_latencies else None,
            "server_rss_kb_after": rss_after, "span_seconds": round(span, 1),
        })
    else:
        for pp in pipes:
            pp.send("stop")
        for pp in pipes:
            await loop.run_in_executor(None, pp.recv)
    results["errors"] = errors[:10]
    for proc in procs:
        proc.join(timeout=5)
    await cleanup(args, pool)
    settings = {k: v for k, v in vars(args).items() if k not in ("master_key",)}
    return {"label": args.label, "settings": settings, "machine": machine(), "results": results,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


if __name__ == "__main__":
    main()
