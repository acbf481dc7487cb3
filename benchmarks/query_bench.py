"""Query latency at 10k, 100k and 1M objects in one class, with the plan PostgreSQL chose.

Objects are written through Parsnip's real write path (the writer appends every one to the
log and the projection), in transactional units of --unit creates. Then each typical query
runs --repeat times through the same reader the REST API uses (no HTTP: this measures the
query, not the web stack), and its EXPLAIN is kept.

    .venv/bin/python benchmarks/query_bench.py                      # 10k,100k,1M; fresh database
    .venv/bin/python benchmarks/query_bench.py --sizes 10000 --repeat 50

Writes JSON (figures, plans, machine, settings) to benchmarks/results/query-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsnip.api.runtime import open_runtime  # noqa: E402
from parsnip.core.commands import Create  # noqa: E402
from parsnip.core.config import Config  # noqa: E402
from parsnip.core.errors import ParseError  # noqa: E402
from parsnip.core.events import Context  # noqa: E402
from parsnip.core.operations import parse_op  # noqa: E402
from parsnip.core.query.ast import parse_where  # noqa: E402
from parsnip.projections import reader  # noqa: E402

CLASS = "BenchItem"
# The btree indexes an operator would declare for these queries (Parse's schema API `indexes`);
# equality on room uses the GIN index on `data` without them.
INDEXES = [
    f'CREATE INDEX IF NOT EXISTS "bench_room_created" ON "p_{CLASS}" ((data->\'room\'), created_at)',
    f'CREATE INDEX IF NOT EXISTS "bench_room_updated" ON "p_{CLASS}" ((data->\'room\'), updated_at)',
    f'CREATE INDEX IF NOT EXISTS "bench_title_text" ON "p_{CLASS}" USING gin (to_tsvector(\'english\', data->>\'title\'))',
]
MASTER = Context(master=True)


def _object(i: int, rooms: int, owners: int, rng: random.Random) -> dict:
    return {
        "room": f"room-{rng.randrange(rooms)}",
        "score": rng.randrange(100_000),
        "status": rng.choice(["open", "closed", "pending", "archived"]),
        "owner": {"__type": "Pointer", "className": "Owner", "objectId": f"owner{rng.randrange(owners):05d}"},
        "where": {"__type": "GeoPoint", "latitude": rng.uniform(-60, 60), "longitude": rng.uniform(-170, 170)},
        "title": rng.choice(["running late", "quiet morning", "the big match", "new release", "coffee break"]) + f" {i}",
    }


def queries(rooms: int) -> list[tuple[str, dict, dict]]:
    """(name, where, options) of the typical queries."""
    return [
        ("equality + order -createdAt + limit 10", {"room": "room-7"}, {"order": "-createdAt", "limit": 10}),
        ("$in 5 values + order -updatedAt + limit 10", {"room": {"$in": [f"room-{i}" for i in range(5)]}},
         {"order": "-updatedAt", "limit": 10}),
        ("pointer equality + limit 10", {"owner": {"__type": "Pointer", "className": "Owner", "objectId": "owner00042"}},
         {"limit": 10}),
        ("equality + range + limit 10", {"status": "open", "score": {"$gte": 1000, "$lt": 2000}}, {"limit": 10}),
        ("count with equality", {"room": "room-3"}, {"limit": 0, "count": True}),
        ("$nearSphere 500 km + limit 10", {"where": {"$nearSphere": {"__type": "GeoPoint", "latitude": 10, "longitude": 20},
                                                     "$maxDistanceInKilometers": 500}}, {"limit": 10}),
        ("$text search + limit 10", {"title": {"$text": {"$search": {"$term": "running"}}}}, {"limit": 10}),
        ("$text rare term", {"title": {"$text": {"$search": {"$term": "424242"}}}}, {"limit": 10}),
    ]


async def _fill(rt, have: int, want: int, args, rng: random.Random) -> None:
    started = time.monotonic()
    i = have
    while i < want:
        n = min(args.unit, want - i)
        commands = [Create(CLASS, {k: parse_op(v) for k, v in _object(i + j, args.rooms, args.owners, rng).items()})
                    for j in range(n)]
        await rt.write(commands, MASTER)
        i += n
        if (i // args.unit) % 50 == 0 or i == want:
            rate = (i - have) / max(time.monotonic() - started, 1e-9)
            print(f"  loaded {i:,} / {want:,} ({rate:,.0f} objects/s)", flush=True)


async def _explain(conn, opts) -> dict:
    texts, _ = await reader.find(conn, CLASS, dataclasses.replace(opts, explain=True))
    plan = json.loads(texts[0])[0]["Plan"]
    nodes = []

    def walk(p):
        nodes.append(p["Node Type"] + (f" on {p['Index Name']}" if "Index Name" in p else ""))
        for child in p.get("Plans", []):
            walk(child)

    walk(plan)
    return {"nodes": nodes, "plan": plan}


def _options(where: dict, extra: dict) -> reader.FindOptions:
    # What the REST route derives from the schema and the indexes: room holds one String and
    # has btree indexes.
    return reader.FindOptions(where=parse_where(where), order=extra.get("order"), limit=extra.get("limit", 100),
                              count=extra.get("count", False), scalar_fields=frozenset({"room"}))


async def _measure(rt, args) -> list[dict]:
    out = []
    for name, where, extra in queries(args.rooms):
        try:
            opts = _options(where, extra)
            await rt.read(reader.find, CLASS, opts)  # warm
        except ParseError as e:
            out.append({"query": name, "error": f"{e.code}: {e.message}"})
            print(f"  {name:45s} not supported: {e.message}", flush=True)
            continue
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            await rt.read(reader.find, CLASS, opts)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        plan = await rt.read(_explain, opts) if not extra.get("count") else {"nodes": ["(count)"]}
        row = {"query": name, "where": where, "options": extra, "p50_ms": statistics.median(times),
               "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))], "mean_ms": statistics.fmean(times),
               "plan_nodes": plan["nodes"], "plan": plan.get("plan")}
        out.append(row)
        print(f"  {name:45s} p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  plan: {' > '.join(plan['nodes'])}",
              flush=True)
    return out


async def _create_database(admin: str, name: str) -> str:
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name


async def main(args) -> None:
    dsn = await trio.to_thread.run_sync(lambda: asyncio.run(_create_database(args.admin_dsn, args.database)))
    rng = random.Random(args.seed)
    results = []
    async with open_runtime(Config(appId="bench", masterKey="bench"), dsn) as rt:
        have = await rt.gateway.fetchval(f'SELECT count(*) FROM "p_{CLASS}"') if await rt.has_class(CLASS) else 0
        for size in args.sizes:
            print(f"size {size:,}", flush=True)
            if have < size:
                await _fill(rt, have, size, args, rng)
                have = size
            for sql in INDEXES:
                await rt.gateway.execute(sql)
            # VACUUM merges the GIN pending list, so the planner prices the index rightly.
            await rt.gateway.execute(f'VACUUM ANALYZE "p_{CLASS}"')
            results.append({"objects": have, "queries": await _measure(rt, args)})
    report = {
        "benchmark": "query_bench", "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {k: v for k, v in vars(args).items()},
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "cpu": platform.processor()},
        "results": results,
    }
    out = Path(args.json_out or f"benchmarks/results/query-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {out}")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--admin-dsn", default="postgres://postgres@127.0.0.1:5432/test",
                   help="a PostgreSQL where the benchmark may create its database")
    p.add_argument("--database", default="parsnip_query_bench", help="kept between runs, so sizes grow")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000, 1_000_000])
    p.add_argument("--rooms", type=int, default=1000)
    p.add_argument("--owners", type=int, default=1000)
    p.add_argument("--unit", type=int, default=500, help="creates per writer unit while loading")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json-out")
    return p.parse_args()


if __name__ == "__main__":
    trio.run(main, _args())
