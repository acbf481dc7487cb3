"""History at scale: issue 13's figures on a class of --objects objects with --versions versions.

1. Build: objects are created, updated (about --versions / --objects versions each) and a few
   deleted through Parsnip's real write path in-process (`Runtime.write`: the writer, the log with
   its chain hash, the live and history projections), in units of --unit commands, creates spread
   over the whole log. Fields: `score` (Increment), `tag` (one of --tags strings, for equality),
   `rank` (a Number, for order), an ACL on some objects. The class is made with a schema API
   index on (tag, rank desc), as an operator would declare for the query below; it is copied to
   the history table.
2. `parsnip rebuild` and 3. `parsnip verify`, the real commands (subprocesses, --databaseURI),
   with the events/s they report and their wall time.
4. The real server (`parsnip` on a free port, the same database), sequential requests with
   httpx and the master key, --repeat times each after --warmup: the live query
   `where={"tag":"t7"}&order=-rank&limit=10`, the same with asOf a position in the middle of the
   log and one near its end (ratio to live; target within 2x), and GET /history/Thing/{id} for
   random objects (target under 10 ms). Then EXPLAIN (ANALYZE, BUFFERS) of each query's SQL, as the
   REST route compiles it, with the plan's nodes and indexes.

    .venv/bin/python benchmarks/history_bench.py                                  # 100k objects, 1M versions
    .venv/bin/python benchmarks/history_bench.py --objects 2000 --versions 20000  # a quick check
    .venv/bin/python benchmarks/history_bench.py --skip-build --skip-rebuild --skip-verify  # re-measure reads

Writes JSON (figures, plans, settings, machine) to benchmarks/results/history-<time>.json (--out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import parsnip_process  # noqa: E402  (the server started)
import rest_bench as rb  # noqa: E402  (machine info, percentiles)
from parsnip.api.runtime import open_runtime  # noqa: E402
from parsnip.core.commands import CREATE_CLASS, UPDATE_CLASS, Command, Create, Delete, SchemaChange, Update, acl_op  # noqa: E402
from parsnip.core.config import Config  # noqa: E402
from parsnip.core.events import Context  # noqa: E402
from parsnip.core.operations import Op, parse_op  # noqa: E402
from parsnip.core.services.query_options import find_options  # noqa: E402
from parsnip.projections import reader  # noqa: E402

CLASS = "Thing"
APP_ID, MASTER_KEY = "HBENCH", "HBENCH-MASTER"
INDEX = {"tag_rank": {"tag": 1, "rank": -1}}
FIELDS = {"score": {"type": "Number"}, "tag": {"type": "String"}, "rank": {"type": "Number"}}
SUMMARY = re.compile(r"([\d,]+) events in ([\d.]+) s \(([\d,]+) events/s\)")
TARGET_RATIO, TARGET_HISTORY_MS = 2.0, 10.0
VARIANTS = ("index", "gin")


# -- the database ----------------------------------------------------------------------------------

def _admin_uri(uri: str) -> tuple[str, str]:
    """(a maintenance URI on the same server, the database's name) for dropping and creating it."""
    parts = urllib.parse.urlsplit(uri)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit(f"--database-uri must name a database: {uri!r}")
    return parts._replace(path="/postgres").geturl(), name


async def _recreate_database(uri: str) -> None:
    admin, name = _admin_uri(uri)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _query(uri: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(uri)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _sql(uri: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_query(uri, sql, *args))


# -- 1. the build ------------------------------------------------------------------------------------

class Workload:
    """The commands of the build, unit by unit: creates spread evenly over the log, updates on
    objects already committed (uniformly, so the earliest objects gather the most versions),
    and deletes at --delete-rate."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.tags = [f"t{i}" for i in range(args.tags)]
        self.alive: list[str] = []  # committed, not deleted
        self.created = self.events = self.deletes = 0

    def next_unit(self) -> list[Command]:
        a, rng = self.args, self.rng
        unit: list[Command] = []
        while len(unit) < a.unit and self.events < a.versions:
            remaining, to_create = a.versions - self.events, a.objects - self.created
            if to_create > 0 and (to_create >= remaining or not self.alive or rng.random() < to_create / remaining):
                unit.append(Create(CLASS, self._create_ops()))
                self.created += 1
            elif rng.random() < a.delete_rate and len(self.alive) > 1:
                i = rng.randrange(len(self.alive))
                self.alive[i], self.alive[-1] = self.alive[-1], self.alive[i]
                unit.append(Delete(CLASS, self.alive.pop()))
                self.deletes += 1
            else:
                unit.append(Update(CLASS, rng.choice(self.alive), self._update_ops()))
            self.events += 1
        return unit

    def committed(self, unit: list[Command], results: list) -> None:
        self.alive.extend(r.object_id for cmd, r in zip(unit, results) if isinstance(cmd, Create))

    def _create_ops(self) -> dict:
        rng = self.rng
        ops = {"score": parse_op(rng.randrange(1000)), "tag": parse_op(rng.choice(self.tags)),
               "rank": parse_op(rng.randrange(1_000_000))}
        if rng.random() < self.args.acl_rate:
            ops["ACL"] = self._acl()
        return ops

    def _update_ops(self) -> dict:
        rng = self.rng
        ops = {"score": parse_op({"__op": "Increment", "amount": rng.randrange(1, 10)}),
               "rank": parse_op(rng.randrange(1_000_000))}
        if rng.random() < 0.2:
            ops["tag"] = parse_op(rng.choice(self.tags))
        if rng.random() < self.args.acl_rate / 5:
            ops["ACL"] = self._acl()
        return ops

    def _acl(self) -> Op:
        user = f"user{self.rng.randrange(1000):04d}"
        return acl_op({"*": {"read": True}, user: {"read": True, "write": True}, "role:editors": {"write": True}})


async def build(args: argparse.Namespace, uri: str) -> dict:
    """Write the class through the real writer; returns what was written and how fast."""
    work = Workload(args)
    async with open_runtime(Config(appId=APP_ID, masterKey=MASTER_KEY), uri) as rt:
        ctx = Context(master=True, request_id="hbench-schema", client_ip="127.0.0.1")
        await rt.write([SchemaChange(CLASS, CREATE_CLASS, fields=FIELDS, indexes=INDEX)], ctx)
        started = shown = time.monotonic()
        units = 0
        while work.events < args.versions:
            unit = work.next_unit()
            ctx = Context(master=True, request_id=f"hbench-{units}", client_ip="127.0.0.1")
            work.committed(unit, await rt.write(unit, ctx))
            units += 1
            if time.monotonic() - shown >= 5 or work.events >= args.versions:
                shown = time.monotonic()
                rate = work.events / max(shown - started, 1e-9)
                print(f"  built {work.events:,} / {args.versions:,} versions, {work.created:,} objects "
                      f"({rate:,.0f} events/s)", flush=True)
        seconds = time.monotonic() - started
        head = await rt.gateway.fetchval("SELECT position FROM parsnip_log_head")
    return {"objects": work.created, "versions": work.events, "deletes": work.deletes, "units": units,
            "seconds": round(seconds, 2), "events_per_s": round(work.events / max(seconds, 1e-9), 1),
            "log_head": head}


# -- 2, 3. the maintenance commands -------------------------------------------------------------------

def run_command(name: str, uri: str) -> dict:
    """`parsnip <name> --databaseURI uri`, its progress passed through; the events/s it reports."""
    cmd = [sys.executable, "-m", "parsnip.api.cli", name, "--databaseURI", uri]
    print(f"  $ parsnip {name} --databaseURI {uri}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        print(f"    {line.rstrip()}", flush=True)
    proc.wait()
    wall = time.monotonic() - started
    found = [m for m in (SUMMARY.search(line) for line in lines) if m]
    out: dict[str, Any] = {"exit_status": proc.returncode, "wall_seconds": round(wall, 2), "output_tail": lines[-5:]}
    if found:
        m = found[-1]
        out.update(events=int(m.group(1).replace(",", "")), seconds=float(m.group(2)),
                   events_per_s=int(m.group(3).replace(",", "")))
    if proc.returncode != 0:
        print(f"  parsnip {name} exited with {proc.returncode}", flush=True)
    return out


# -- 4. the server ------------------------------------------------------------------------------------

def _rounds(client: httpx.Client, kinds: dict[str, Any], rounds: int, warmup: int) -> dict[str, tuple[list, list]]:
    """`rounds` rounds of one request of each kind (a callable giving (path, params)), in turn, so
    that the machine's drift touches every kind alike; after `warmup` unmeasured rounds. Per
    kind: latencies in ms and the answers."""
    out: dict[str, tuple[list, list]] = {k: ([], []) for k in kinds}
    for i in range(warmup + rounds):
        for kind, request in kinds.items():
            path, params = request()
            t0 = time.perf_counter()
            r = client.get(path, params=params)
            ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            if i >= warmup:
                out[kind][0].append(ms)
                out[kind][1].append(r.json())
    return out


def _figures(times: list[float]) -> dict:
    s = sorted(times)
    return {"n": len(s), "median_ms": round(statistics.median(s), 3), "p95_ms": round(rb.percentile(s, 0.95), 3),
            "mean_ms": round(statistics.fmean(s), 3), "max_ms": round(s[-1], 3)}


def query_params(args: argparse.Namespace, as_of: int | None = None) -> dict:
    params = {"where": json.dumps({"tag": args.tag}), "order": "-rank", "limit": "10"}
    if as_of is not None:
        params["asOf"] = str(as_of)
    return params


def measure_http(args: argparse.Namespace, url: str, moments: dict, head: int, object_ids: list[str]) -> dict:
    """Sequential requests against the running server, interleaved: live, as-of each moment, history."""
    rng = random.Random(args.seed + 1)
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    path = f"/classes/{CLASS}"
    kinds = {"live": lambda: (path, query_params(args))}
    for name, position in moments.items():
        kinds[f"as_of_{name}"] = lambda position=position: (path, query_params(args, position))
    kinds["history"] = lambda: (f"/history/{CLASS}/{rng.choice(object_ids)}", {})
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        measured = _rounds(client, kinds, args.repeat, args.warmup)
        # A check that as-of reads the same data: as of the head, the answer is the live one.
        at_head = client.get(path, params=query_params(args, head)).json()
    out: dict[str, Any] = {"moments": moments, "as_of_head_equals_live": at_head == measured["live"][1][-1]}
    out["live"] = live = _figures(measured["live"][0])
    print(f"  live query          {_line(live)}", flush=True)
    for name in moments:
        fig = _figures(measured[f"as_of_{name}"][0])
        fig["ratio_median"] = round(fig["median_ms"] / live["median_ms"], 2)
        fig["ratio_p95"] = round(fig["p95_ms"] / live["p95_ms"], 2)
        fig["within_target"] = fig["ratio_median"] <= TARGET_RATIO
        out[f"as_of_{name}"] = fig
        print(f"  as-of {name:13s} {_line(fig)}  ratio {fig['ratio_median']:.2f}x median, "
              f"{fig['ratio_p95']:.2f}x p95", flush=True)
    times, bodies = measured["history"]
    fig = _figures(times)
    counts = [len(b["results"]) for b in bodies]
    fig.update(versions_mean=round(statistics.fmean(counts), 2), versions_max=max(counts),
               within_target=fig["median_ms"] < TARGET_HISTORY_MS)
    out["history"] = fig
    print(f"  GET /history        {_line(fig)}  ({fig['versions_mean']} versions on average)", flush=True)
    if not out["as_of_head_equals_live"]:
        print("  WARNING: the query as of the log's head did not answer what the live query did", flush=True)
    return out


def _line(fig: dict) -> str:
    return f"median {fig['median_ms']:7.2f} ms  p95 {fig['p95_ms']:7.2f} ms"


# -- the plans ---------------------------------------------------------------------------------------

class _Recording:
    """A connection that keeps the last SELECT it was asked to fetch (the find's SQL)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn, self.sql, self.args = conn, None, ()

    async def fetch(self, sql: str, *args: Any) -> list:
        if sql.lstrip().upper().startswith("SELECT") and " LIMIT " in sql:
            self.sql, self.args = sql, args
        return await self._conn.fetch(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def explain(args: argparse.Namespace, uri: str, moments: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the live and as-of queries, compiled as the REST route does."""
    out = {}
    async with open_runtime(Config(appId=APP_ID, masterKey=MASTER_KEY), uri) as rt:
        await rt.has_class(CLASS)
        btree = await rt.btree_fields(CLASS)
        for name, position in {"live": None, **{f"as_of_{k}": v for k, v in moments.items()}}.items():
            opts = find_options(rt, query_params(args, position), CLASS, master=True, btree_fields=btree)

            async def plan(conn, opts=opts):
                rec = _Recording(conn)
                await reader.find(rec, CLASS, opts)
                row = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {rec.sql}", *rec.args)
                return rec.sql, json.loads(row) if isinstance(row, str) else row

            sql, result = await rt.read(plan)
            top = result[0]
            nodes: list[str] = []

            def walk(p: dict) -> None:
                label = p["Node Type"] + (f" on {p['Index Name']}" if "Index Name" in p else "")
                extra = [f"rows {p.get('Actual Rows')}"]
                if p.get("Rows Removed by Filter"):
                    extra.append(f"removed by filter {p['Rows Removed by Filter']}")
                nodes.append(f"{label} ({', '.join(extra)})")
                for child in p.get("Plans", []):
                    walk(child)

            walk(top["Plan"])
            out[name] = {"sql": sql, "execution_ms": top.get("Execution Time"), "planning_ms": top.get("Planning Time"),
                         "nodes": nodes, "plan": top["Plan"]}
            print(f"  {name:18s} {top.get('Execution Time', 0):7.2f} ms  {' > '.join(nodes)}", flush=True)
    return out


# -- a variant: the index declared or not ---------------------------------------------------------------

def _has_index(uri: str) -> bool:
    return bool(_sql(uri, "SELECT 1 FROM pg_indexes WHERE indexname = $1", f"p_{CLASS}_i_{next(iter(INDEX))}"))


async def _set_index(uri: str, present: bool) -> None:
    """Declare or delete the schema index, through the writer as the schema API does (both tables)."""
    indexes = INDEX if present else {name: {"__op": "Delete"} for name in INDEX}
    async with open_runtime(Config(appId=APP_ID, masterKey=MASTER_KEY), uri) as rt:
        await rt.write([SchemaChange(CLASS, UPDATE_CLASS, indexes=indexes)], Context(master=True))


def measure_reads(args: argparse.Namespace, uri: str, moments: dict, object_ids: list[str], with_index: bool) -> dict:
    """The server's figures and the plans, with the schema index present or not."""
    if _has_index(uri) != with_index:
        print(f"   {'declaring' if with_index else 'deleting'} the schema index {next(iter(INDEX))}", flush=True)
        trio.run(_set_index, uri, with_index)
    _analyze(uri)
    head = _sql(uri, "SELECT position FROM parsnip_log_head")[0][0]
    server = parsnip_process.start(uri, APP_ID, MASTER_KEY, log_prefix="history-bench-server-")
    try:
        http = measure_http(args, server.url, moments, head, object_ids)
    finally:
        server.stop()
    print("   plans (EXPLAIN ANALYZE of the SQL the route runs):", flush=True)
    return {"index_declared": with_index, "http": http, "explain": trio.run(explain, args, uri, moments)}


def _summary(report: dict) -> None:
    print("\nsummary")
    for name in ("rebuild", "verify"):
        if name in report and "events_per_s" in report[name]:
            r = report[name]
            print(f"  parsnip {name:8s} {r['events']:,} events at {r['events_per_s']:,} events/s "
                  f"({r['wall_seconds']} s wall, exit {r['exit_status']})")
    for variant, r in report["reads"].items():
        h = r["http"]
        ratios = ", ".join(f"{k} {h['as_of_' + k]['ratio_median']:.2f}x" for k in h["moments"])
        print(f"  {variant:6s} live {h['live']['median_ms']:.2f} ms; as-of / live (median): {ratios} "
              f"(target {TARGET_RATIO}x); history {h['history']['median_ms']:.2f} ms (target < {TARGET_HISTORY_MS} ms)")


# -- main ---------------------------------------------------------------------------------------------

def _analyze(uri: str) -> None:
    """VACUUM ANALYZE the class's tables: a rebuild leaves fresh tables the planner knows nothing of."""
    async def run() -> None:
        conn = await asyncpg.connect(uri)
        try:
            for t in (f"p_{CLASS}", f"h_{CLASS}"):
                await conn.execute(f'VACUUM ANALYZE "{t}"')
        finally:
            await conn.close()
    asyncio.run(run())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--objects", type=int, default=100_000, help="objects in the class")
    p.add_argument("--versions", type=int, default=1_000_000, help="object events in all (creates, updates, deletes)")
    p.add_argument("--database-uri", default="postgres://postgres@127.0.0.1:5432/hbench",
                   help="dropped and created anew unless --skip-build")
    p.add_argument("--skip-build", action="store_true", help="reuse the class already in --database-uri")
    p.add_argument("--skip-rebuild", action="store_true", help="do not run parsnip rebuild")
    p.add_argument("--skip-verify", action="store_true", help="do not run parsnip verify")
    p.add_argument("--unit", type=int, default=500, help="commands per writer unit while building")
    p.add_argument("--tags", type=int, default=20, help="distinct values of `tag`")
    p.add_argument("--tag", default="t7", help="the value the queries look for")
    p.add_argument("--delete-rate", type=float, default=0.005, help="share of events that are deletes")
    p.add_argument("--acl-rate", type=float, default=0.1, help="share of objects created with an ACL")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="measure the reads with the schema index (tag, -rank) declared ('index') and without it "
                        "('gin': Parsnip's own GIN on data only); the index is put back at the end")
    p.add_argument("--repeat", type=int, default=300, help="measured rounds (one request of each kind per round)")
    p.add_argument("--warmup", type=int, default=20, help="unmeasured rounds first")
    p.add_argument("--seed", type=int, default=1, help="of the workload and of the objects picked")
    p.add_argument("--label", default=None, help="free text copied into the report")
    p.add_argument("--out", "--json-out", dest="out",
                   default=str(ROOT / "benchmarks" / "results" / f"history-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    args = p.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not args.variants or set(args.variants) - set(VARIANTS):
        p.error(f"--variants: a comma list of {', '.join(VARIANTS)}")
    if args.objects < 1 or args.versions < args.objects:
        p.error("need 1 <= --objects <= --versions")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    uri = args.database_uri
    rb.loopback_target("http://" + (urllib.parse.urlsplit(uri).hostname or "") + "/")
    report: dict[str, Any] = {
        "benchmark": "history_bench", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "label": args.label,
        "settings": vars(args), "machine": rb.machine_info(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "targets": {"as_of_over_live": TARGET_RATIO, "history_ms": TARGET_HISTORY_MS},
    }
    if not args.skip_build:
        print(f"1. build: {args.objects:,} objects, {args.versions:,} versions into a fresh {uri}", flush=True)
        asyncio.run(_recreate_database(uri))
        report["build"] = trio.run(build, args, uri)
    elif not _sql(uri, "SELECT to_regclass($1) IS NOT NULL", f'"h_{CLASS}"')[0][0]:
        raise SystemExit(f"--skip-build: {uri} has no class {CLASS}; build it first (run without --skip-build)")
    head = _sql(uri, "SELECT position FROM parsnip_log_head")[0][0]
    report["log_head"] = head
    if not args.skip_rebuild:
        print(f"2. parsnip rebuild on {head:,} events", flush=True)
        report["rebuild"] = run_command("rebuild", uri)
    if not args.skip_verify:
        print(f"3. parsnip verify on {head:,} events", flush=True)
        report["verify"] = run_command("verify", uri)
    object_ids = [r[0] for r in _sql(uri, f'SELECT DISTINCT object_id FROM "h_{CLASS}"')]
    report["history_rows"] = _sql(uri, f'SELECT count(*) FROM "h_{CLASS}"')[0][0]
    moments = {"middle": head // 2, "near_end": max(1, head - max(1, head // 100))}
    report["reads"] = {}
    for variant in args.variants:
        print(f"4. reads, {variant}: {len(object_ids):,} objects, {report['history_rows']:,} history rows, "
              f"{args.repeat} rounds after {args.warmup} unmeasured", flush=True)
        report["reads"][variant] = measure_reads(args, uri, moments, object_ids, with_index=variant == "index")
    if not _has_index(uri):
        trio.run(_set_index, uri, True)  # leave the database as built, for --skip-build
    _summary(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {out}")
    failed = [n for n in ("rebuild", "verify") if report.get(n, {}).get("exit_status", 0) != 0]
    missed = [f"{v} {k}" for v, r in report["reads"].items() for k, fig in r["http"].items()
              if isinstance(fig, dict) and fig.get("within_target") is False]
    if failed or missed:
        print(f"failed: {', '.join(failed) or 'none'}; targets missed: {', '.join(missed) or 'none'}")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
