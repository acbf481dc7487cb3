"""How fast can trio code run PostgreSQL queries through each way of reaching asyncpg?

asyncpg only speaks asyncio, while Parsnip is written on trio. Parsnip's answer is
`core.db.gateway.Gateway`: asyncpg on a uvloop loop in one dedicated thread, with trio
awaiting whole units of work. This script keeps that choice a measured one by running the
same workloads through:

- `gateway`: the project's Gateway (asyncpg + uvloop in a thread, trio awaiting);
- `trio-asyncio`: asyncpg on an asyncio loop emulated on trio (`trio_asyncio.open_loop()`,
  `trio_asyncio.aio_as_trio`);
- `asyncio-uvloop`: plain asyncio on uvloop, no trio at all (the ceiling, for reference).

Two workloads per mode, each with `--concurrency` tasks looping for `--duration` seconds
after `--warmup` unmeasured seconds (closed loop: a task starts its next operation as soon as
the previous one returns):

- `trivial`: `SELECT $1::int` through the pool (one round trip, one bridge crossing);
- `unit`: a transaction on one pooled connection (BEGIN, INSERT ... RETURNING into an
  unlogged table, SELECT of that row, COMMIT) awaited as one unit, as Parsnip does.

Every mode runs in its own fresh Python process so that loops, threads and imports of one
mode cannot affect another. Only loopback PostgreSQL addresses (or a Unix socket) are
accepted. The script prints a table and writes a JSON report with the results, the settings
and a description of the machine.

    .venv/bin/python benchmarks/bridge_bench.py --json-out benchmarks/results/bridge.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
MODES = ("gateway", "trio-asyncio", "asyncio-uvloop")
WORKLOADS = ("trivial", "unit")
TRIVIAL_SQL = "SELECT $1::int"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost", ""}

Op = Callable[[int], Awaitable[Any]]

# --------------------------------------------------------------------------------------------
# Workloads: plain asyncpg coroutines, run on whichever asyncio loop the mode provides
# --------------------------------------------------------------------------------------------


async def trivial_query(pool: asyncpg.Pool, i: int) -> int:
    return await pool.fetchval(TRIVIAL_SQL, i)


async def unit_of_work(pool: asyncpg.Pool, table: str, i: int) -> int:
    """A small realistic unit: one transaction writing a row and reading it back."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            row_id = await conn.fetchval(
                f"INSERT INTO {table} (n, note) VALUES ($1, $2) RETURNING id", i, "bridge-bench"
            )
            return await conn.fetchval(f"SELECT n FROM {table} WHERE id = $1", row_id)


# --------------------------------------------------------------------------------------------
# Measuring window, shared by trio and asyncio drivers (nothing here awaits a framework)
# --------------------------------------------------------------------------------------------


def box_cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """The measured interval and everything that completed inside it."""

    start: float  # time.perf_counter() values
    end: float
    latencies: list[float] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    box_start: tuple[int, int] | None = None
    box_end: tuple[int, int] | None = None

    @classmethod
    def after(cls, warmup: float, duration: float) -> "Window":
        start = time.perf_counter() + warmup
        return cls(start=start, end=start + duration)

    def record(self, began: float, finished: float) -> bool:
        """Keep one sample if it finished inside the window; False once the window is over."""
        if finished > self.end:
            return False
        if finished >= self.start:
            self.latencies.append(finished - began)
        return True

    def open(self) -> None:
        self.cpu_start, self.box_start = process_cpu_seconds(), box_cpu_times()

    def close(self) -> None:
        self.cpu_end, self.box_end = process_cpu_seconds(), box_cpu_times()


async def watch_window(window: Window, sleep: Callable[[float], Awaitable[None]]) -> None:
    """Take CPU snapshots at both ends of the window (`sleep` is trio's or asyncio's)."""
    await sleep(max(0.0, window.start - time.perf_counter()))
    window.open()
    await sleep(max(0.0, window.end - time.perf_counter()))
    window.close()


async def client(op: Op, first: int, step: int, window: Window) -> None:
    """One closed-loop task: run `op` until the window ends, checking every answer."""
    i = first
    while True:
        began = time.perf_counter()
        answer = await op(i)
        if answer != i:
            raise AssertionError(f"expected {i}, got {answer!r}")
        if not window.record(began, time.perf_counter()):
            return
        i += step


async def drive_trio(op: Op, concurrency: int, window: Window) -> None:
    import trio

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_window, window, trio.sleep)
        for k in range(concurrency):
            nursery.start_soon(client, op, k, concurrency, window)


async def drive_asyncio(op: Op, concurrency: int, window: Window) -> None:
    clients = [client(op, k, concurrency, window) for k in range(concurrency)]
    await asyncio.gather(watch_window(window, asyncio.sleep), *clients)


# --------------------------------------------------------------------------------------------
# Modes (each runs inside its own worker process)
# --------------------------------------------------------------------------------------------


@dataclass
class WorkerSpec:
    mode: str
    dsn: str
    table: str
    workloads: list[str]
    concurrency: int
    pool_size: int
    warmup: float
    duration: float


def make_ops(pool: asyncpg.Pool, table: str,
             cross: Callable[..., Awaitable[Any]]) -> dict[str, Op]:
    """The workloads as one-argument callables; `cross(fn, *args)` awaits `fn(*args)`."""
    return {
        "trivial": lambda i: cross(trivial_query, pool, i),
        "unit": lambda i: cross(unit_of_work, pool, table, i),
    }


async def direct(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return await fn(*args)


async def run_gateway(spec: WorkerSpec) -> dict[str, Window]:
    from parsnip.core.db.gateway import Gateway

    windows = {}
    async with Gateway(spec.dsn, min_size=spec.pool_size, max_size=spec.pool_size) as gw:
        ops = make_ops(gw.pool, spec.table, gw.call)
        ops["trivial"] = lambda i: gw.fetchval(TRIVIAL_SQL, i)  # the API application code uses
        for name in spec.workloads:
            windows[name] = Window.after(spec.warmup, spec.duration)
            await drive_trio(ops[name], spec.concurrency, windows[name])
    return windows


async def run_trio_asyncio(spec: WorkerSpec) -> dict[str, Window]:
    import trio_asyncio

    windows = {}
    async with trio_asyncio.open_loop():
        pool = await trio_asyncio.aio_as_trio(asyncpg.create_pool)(
            spec.dsn, min_size=spec.pool_size, max_size=spec.pool_size
        )
        try:
            ops = make_ops(pool, spec.table, lambda fn, *a: trio_asyncio.aio_as_trio(fn)(*a))
            for name in spec.workloads:
                windows[name] = Window.after(spec.warmup, spec.duration)
                await drive_trio(ops[name], spec.concurrency, windows[name])
        finally:
            await trio_asyncio.aio_as_trio(pool.close)()
    return windows


async def run_asyncio_uvloop(spec: WorkerSpec) -> dict[str, Window]:
    windows = {}
    async with asyncpg.create_pool(
        spec.dsn, min_size=spec.pool_size, max_size=spec.pool_size
    ) as pool:
        ops = make_ops(pool, spec.table, direct)
        for name in spec.workloads:
            windows[name] = Window.after(spec.warmup, spec.duration)
            await drive_asyncio(ops[name], spec.concurrency, windows[name])
    return windows


def run_mode(spec: WorkerSpec) -> dict[str, Window]:
    if spec.mode == "asyncio-uvloop":
        import uvloop

        return uvloop.run(run_asyncio_uvloop(spec))
    import trio

    sys.path.insert(0, str(ROOT))
    runner = run_gateway if spec.mode == "gateway" else run_trio_asyncio
    return trio.run(runner, spec)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def busy_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def summarize(mode: str, workload: str, window: Window) -> dict[str, Any]:
    samples = sorted(window.latencies)
    count, seconds = len(samples), window.end - window.start
    cpu = window.cpu_end - window.cpu_start
    ms = lambda s: round(s * 1000, 3)  # noqa: E731
    return {
        "mode": mode,
        "workload": workload,
        "operations": count,
        "seconds": round(seconds, 3),
        "ops_per_s": round(count / seconds, 1),
        "latency_ms": {
            "p50": ms(percentile(samples, 0.50)) if samples else None,
            "p99": ms(percentile(samples, 0.99)) if samples else None,
            "mean": ms(sum(samples) / count) if samples else None,
            "max": ms(samples[-1]) if samples else None,
        },
        "process_cpu_percent": round(100 * cpu / seconds, 1),
        "process_cpu_us_per_op": round(1e6 * cpu / count, 1) if count else None,
        "box_busy_percent": busy_percent(window.box_start, window.box_end),
    }


# --------------------------------------------------------------------------------------------
# Parent process: setup, one worker per mode, report
# --------------------------------------------------------------------------------------------


def run_worker(spec: WorkerSpec) -> list[dict[str, Any]]:
    """Run one mode in a fresh interpreter and return its summaries."""
    budget = len(spec.workloads) * (spec.warmup + spec.duration) + 60
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(asdict(spec))],
        capture_output=True, text=True, timeout=budget, cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mode {spec.mode} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_main(spec_json: str) -> int:
    spec = WorkerSpec(**json.loads(spec_json))
    windows = run_mode(spec)
    print(json.dumps([summarize(spec.mode, name, w) for name, w in windows.items()]))
    return 0


async def prepare_database(dsn: str, table: str) -> str:
    """Create the unlogged table the `unit` workload writes to; return the server version."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"CREATE UNLOGGED TABLE {table} (id bigserial PRIMARY KEY, n int NOT NULL, note text)"
        )
        return await conn.fetchval("SELECT version()")
    finally:
        await conn.close()


async def drop_table(dsn: str, table: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
        await conn.close()


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu_model": platform.processor() or "unknown",
                            "cpu_count": os.cpu_count(), "memory_gib": None}
    for path, key, prefix in (("/proc/cpuinfo", "cpu_model", "model name"),
                              ("/proc/meminfo", "memory_gib", "MemTotal:")):
        try:
            line = next(x for x in Path(path).read_text().splitlines() if x.startswith(prefix))
        except (OSError, StopIteration):
            continue
        value = line.split(":", 1)[1].strip()
        info[key] = round(int(value.split()[0]) / 2**20, 2) if key == "memory_gib" else value
    info.update(os=platform.platform(), python=platform.python_version(),
                packages=package_versions())
    return info


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("asyncpg", "uvloop", "trio", "trio-asyncio"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_loopback(dsn: str) -> None:
    parts = urlsplit(dsn)
    hosts = (parts.hostname or "").split(",")
    if not all(h in LOOPBACK_HOSTS or h.startswith("/") for h in hosts):
        raise SystemExit(f"refusing a non-loopback database address: {parts.hostname}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dsn", default="postgres://postgres@127.0.0.1:5432/test")
    p.add_argument("--concurrency", type=int, default=16, help="tasks per workload")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per workload")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    p.add_argument("--pool-size", type=int, default=10, help="asyncpg pool size (min = max)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated among {MODES}")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"among {WORKLOADS}")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat all modes, interleaved; the table shows each median round")
    p.add_argument("--json-out", type=Path, default=None,
                   help="report file (default benchmarks/results/bridge-<timestamp>.json)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.modes) - set(MODES) | set(args.workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown mode or workload: {', '.join(sorted(unknown))}")
    return args


def format_table(results: list[dict[str, Any]]) -> str:
    head = f"{'mode':<16}{'workload':<10}{'ops/s':>10}{'p50 ms':>9}{'p99 ms':>9}" \
           f"{'cpu%':>7}{'cpu us/op':>11}{'box%':>7}"
    rows = [head, "-" * len(head)]
    for r in results:
        lat = r["latency_ms"]
        rows.append(f"{r['mode']:<16}{r['workload']:<10}{r['ops_per_s']:>10,.0f}"
                    f"{lat['p50'] or 0:>9.2f}{lat['p99'] or 0:>9.2f}"
                    f"{r['process_cpu_percent']:>7.0f}{r['process_cpu_us_per_op'] or 0:>11.0f}"
                    f"{r['box_busy_percent'] if r['box_busy_percent'] is not None else '-':>7}")
    return "\n".join(rows)


def median_rounds(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mode and workload, the round with the median ops/s (the lower one of two)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["mode"], r["workload"]), []).append(r)
    picked = []
    for runs in groups.values():
        ranked = sorted(runs, key=lambda r: r["ops_per_s"])
        rates = [r["ops_per_s"] for r in ranked]
        picked.append(ranked[(len(ranked) - 1) // 2] | {"ops_per_s_all_rounds": rates})
    return picked


def default_json_out() -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return ROOT / "benchmarks" / "results" / f"bridge-{stamp}.json"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    check_loopback(args.dsn)
    table = f"bridge_bench_{secrets.token_hex(4)}"
    load_at_start = os.getloadavg()
    pg_version = asyncio.run(prepare_database(args.dsn, table))
    results: list[dict[str, Any]] = []
    try:
        for round_no in range(1, args.rounds + 1):
            for mode in args.modes:
                spec = WorkerSpec(mode, args.dsn, table, args.workloads, args.concurrency,
                                  args.pool_size, args.warmup, args.duration)
                results.extend(r | {"round": round_no} for r in run_worker(spec))
    finally:
        asyncio.run(drop_table(args.dsn, table))
    medians = median_rounds(results)
    print(format_table(medians))
    report = {
        "benchmark": "bridge",
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k not in ("worker", "json_out")}
        | {"trivial_sql": TRIVIAL_SQL, "unit": "BEGIN; INSERT ... RETURNING id; SELECT n "
           "WHERE id = $1; COMMIT (unlogged table, one pooled connection)"},
        "machine": machine_info() | {"postgres_version": pg_version,
                                     "load_average_at_start": [round(x, 2) for x in load_at_start]},
        "results": medians,
        "all_rounds": results,
    }
    out = args.json_out or default_json_out()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nreport written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
