"""What the load benchmarks (rest_bench.py, livequery_bench.py, and those built on them) share:
the target and its set-up requests (master-key admin calls, classes, users, roles), figures
(percentiles, per-second series), CPU and RSS of the server and of PostgreSQL read from /proc,
the machine's description, progress lines, and the JSON report with its plot.

Standard library only: the scripts must run against a server without the repository's
environment. The plot is drawn only when matplotlib (the ``bench`` extra) is importable.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import platform
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------------------------
# Target and admin requests (blocking, few, not measured)
# --------------------------------------------------------------------------------------------


@dataclass
class Target:
    """Where and how to send requests; picklable so that worker processes can receive it."""

    host: str
    port: int
    mount: str  # path prefix without trailing slash, e.g. "/parse"
    app_id: str
    master_key: str
    class_name: str
    load_headers: dict[str, str]  # headers sent with every benchmark request


def loopback_target(url: str) -> tuple[str, int, str]:
    """Split an http:// URL into (host, port, mount), refusing anything that is not loopback."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"--url must be an http:// URL, got {url!r}")
    port = parts.port or 80
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise SystemExit(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = info[4][0].split("%")[0]
        if not ipaddress.ip_address(address).is_loopback:
            raise SystemExit(f"refusing to benchmark {parts.hostname} ({address}): loopback only")
    return parts.hostname, port, parts.path.rstrip("/")


def make_target(args: Any) -> Target:
    """The Target of parsed arguments (--url, --app-id, --master-key, --rest-key,
    --load-master-key, --class-name)."""
    host, port, mount = loopback_target(args.url)
    headers = {"X-Parse-Application-Id": args.app_id}
    if args.rest_key:
        headers["X-Parse-REST-API-Key"] = args.rest_key
    if args.load_master_key:
        headers["X-Parse-Master-Key"] = args.master_key
    return Target(host, port, mount, args.app_id, args.master_key, args.class_name, headers)


def admin_request(target: Target, method: str, path: str, body: Any = None, *,
                  master: bool = True, session_token: str | None = None) -> tuple[int, Any]:
    """One blocking request, with the master key unless `master` is False; returns
    (status, parsed JSON or text)."""
    url = f"http://{target.host}:{target.port}{target.mount}{path}"
    data = json.dumps(body).encode() if body is not None else None
    headers = {"X-Parse-Application-Id": target.app_id, "Content-Type": "application/json"}
    if master:
        headers["X-Parse-Master-Key"] = target.master_key
    elif "X-Parse-REST-API-Key" in target.load_headers:
        headers["X-Parse-REST-API-Key"] = target.load_headers["X-Parse-REST-API-Key"]
    if session_token:
        headers["X-Parse-Session-Token"] = session_token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def batch(target: Target, ops: list[dict[str, Any]], size: int = 50) -> list[dict[str, Any]]:
    """Send ops through /batch, `size` per request, with the master key; returns the
    per-op answers ({"success": ...} or {"error": ...}) in order."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(ops), size):
        chunk = [dict(op, path=target.mount + op["path"]) for op in ops[start:start + size]]
        status, doc = admin_request(target, "POST", "/batch", {"requests": chunk})
        if status != 200 or not isinstance(doc, list):
            raise SystemExit(f"/batch failed: HTTP {status}: {str(doc)[:300]}")
        answers += doc
    return answers


def check_health(target: Target, url: str) -> None:
    status, _ = admin_request(target, "GET", "/health")
    if status != 200:
        raise SystemExit(f"{url}/health answered HTTP {status}; is the server up?")


def server_info(target: Target) -> dict[str, Any]:
    """serverInfo (version, features) if the server exposes it; empty dict otherwise."""
    try:
        status, doc = admin_request(target, "GET", "/serverInfo")
    except OSError:
        return {}
    if status != 200 or not isinstance(doc, dict):
        return {}
    return {"parseServerVersion": doc.get("parseServerVersion")}


def drop_class(target: Target, patience: float = 0.0) -> None:
    """Purge the benchmark class's objects and delete its schema. A server that was saturated
    may still be creating objects from writes the benchmark gave up on, so with `patience`
    purge and drop again until the drop succeeds or that many seconds have passed."""
    cls = urllib.parse.quote(target.class_name)
    deadline = time.time() + patience
    while True:
        try:
            status, doc = admin_request(target, "DELETE", f"/purge/{cls}")
            if status == 200:
                status, doc = admin_request(target, "DELETE", f"/schemas/{cls}")
        except OSError as exc:
            status, doc = 0, repr(exc)
        if status == 200 or time.time() > deadline:
            break
        time.sleep(2)
    if status != 200:
        print(f"warning: could not drop class {target.class_name}: HTTP {status}: {doc}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Users and roles (the logged-in modes)
# --------------------------------------------------------------------------------------------


@dataclass
class User:
    object_id: str
    session_token: str


def sign_up_users(target: Target, count: int, prefix: str, concurrency: int = 8) -> list[User]:
    """Sign `count` users up with POST /users (no master key, as an app would), `concurrency`
    at a time: a signup hashes a password, so the server's cores, not round trips, set the
    pace. Raises SystemExit on the first failure."""
    def one(i: int) -> User:
        body = {"username": f"{prefix}{i}", "password": f"pw-{prefix}{i}"}
        status, doc = admin_request(target, "POST", "/users", body, master=False)
        if status != 201 or not isinstance(doc, dict) or "sessionToken" not in doc:
            raise SystemExit(f"signup {i} failed: HTTP {status}: {str(doc)[:300]}")
        return User(doc["objectId"], doc["sessionToken"])

    started, users = time.time(), []
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        for i, user in enumerate(pool.map(one, range(count)), 1):
            users.append(user)
            if i % 500 == 0 or i == count:
                progress(started, f"signed up {i:,}/{count:,} users")
    return users


def create_roles(target: Target, members: dict[str, list[str]]) -> list[str]:
    """Create one publicly readable role per name with the given user ids as its `users`
    relation, through /batch; returns the roles' objectIds."""
    ops = [{"method": "POST", "path": "/roles",
            "body": {"name": name, "ACL": {"*": {"read": True}},
                     "users": {"__op": "AddRelation",
                               "objects": [{"__type": "Pointer", "className": "_User", "objectId": u}
                                           for u in user_ids]}}}
           for name, user_ids in members.items()]
    answers = batch(target, ops, size=20)
    failed = [a for a in answers if "success" not in a]
    if failed:
        raise SystemExit(f"creating roles failed: {failed[0]}")
    return [a["success"]["objectId"] for a in answers]


def delete_users_and_roles(target: Target, users: Sequence[User], role_ids: Iterable[str] = ()) -> None:
    """Delete the benchmark's roles, its users' sessions and the users (master key, /batch)."""
    try:
        ops = [{"method": "DELETE", "path": f"/roles/{rid}"} for rid in role_ids]
        tokens = [u.session_token for u in users]
        for start in range(0, len(tokens), 100):
            where = urllib.parse.quote(json.dumps({"sessionToken": {"$in": tokens[start:start + 100]}}))
            status, doc = admin_request(target, "GET", f"/classes/_Session?where={where}&limit=100&keys=objectId")
            if status == 200:
                ops += [{"method": "DELETE", "path": f"/classes/_Session/{s['objectId']}"} for s in doc["results"]]
        ops += [{"method": "DELETE", "path": f"/users/{u.object_id}"} for u in users]
        batch(target, ops)
    except (OSError, SystemExit) as exc:
        print(f"warning: cleaning up users and roles: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 if empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


QUANTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999))


def latency_ms(sorted_seconds: Sequence[float], names: Sequence[str] = ("p50", "p90", "p99")) -> dict[str, float | None]:
    """Percentiles, max and mean in ms of sorted latencies in seconds (None when empty)."""
    keys = [*names, "max", "mean"]
    if not sorted_seconds:
        return {k: None for k in keys}
    figures: dict[str, float | None] = {name: round(1000 * percentile(sorted_seconds, q), 2)
                                        for name, q in QUANTILES if name in names}
    figures["max"] = round(1000 * sorted_seconds[-1], 2)
    figures["mean"] = round(1000 * sum(sorted_seconds) / len(sorted_seconds), 2)
    return figures


def per_second(times: Iterable[float], latencies: Iterable[float], start: float) -> list[dict[str, Any]]:
    """Count and latency p50/p99 (ms) per whole second since `start`, from parallel sequences
    of completion times and latencies (seconds): the series the plot draws."""
    buckets: dict[int, list[float]] = {}
    for at, latency in zip(times, latencies):
        if at >= start:
            buckets.setdefault(int(at - start), []).append(latency)
    rows = []
    for second in range(max(buckets) + 1 if buckets else 0):
        values = sorted(buckets.get(second, []))
        rows.append({"second": second, "count": len(values),
                     "p50_ms": round(1000 * percentile(values, 0.5), 2) if values else None,
                     "p99_ms": round(1000 * percentile(values, 0.99), 2) if values else None})
    return rows


# --------------------------------------------------------------------------------------------
# CPU and memory from /proc
# --------------------------------------------------------------------------------------------


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, or None off Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_percent(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of all cores' time spent busy between two cpu_times() readings."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (by scanning /proc for parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def tree_rss_mb(pid: int | None) -> float | None:
    """Resident memory (VmRSS) of a process and its children, in MiB."""
    if pid is None:
        return None
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def tree_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process tree so far."""
    if pid is None:
        return None
    ticks = 0
    for p in process_tree(pid):
        try:
            fields = _stat_fields(p)
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pid() -> int | None:
    """The local PostgreSQL postmaster (a `postgres` process whose parent is not one), if any
    runs on this machine; its tree holds every backend, other clients' included."""
    pids = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                pids[int(entry.name)] = (comm, int(_stat_fields(int(entry.name))[1]))
            except (OSError, IndexError, ValueError):
                continue
    masters = [pid for pid, (comm, ppid) in pids.items()
               if comm == "postgres" and pids.get(ppid, ("",))[0] != "postgres"]
    return min(masters) if masters else None


class ResourceMeter:
    """CPU of the server, of PostgreSQL and of this benchmark (its process tree), and the whole
    machine's busy share, between start() and stop(); RSS read on demand."""

    def __init__(self, server_pid: int | None, pg_pid: int | None = None) -> None:
        # several PostgreSQL instances may run (Parse's peer has its own): give the right one
        self.server_pid, self.pg_pid = server_pid, pg_pid if pg_pid is not None else postgres_pid()
        self._start: tuple[Any, ...] = ()

    def _read(self) -> tuple[Any, ...]:
        return (time.time(), cpu_times(), tree_cpu_seconds(self.server_pid),
                tree_cpu_seconds(self.pg_pid), tree_cpu_seconds(os.getpid()))

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, Any]:
        """CPU figures since start(), in % of one core (machine: % of all cores)."""
        end = self._read()
        wall = max(end[0] - self._start[0], 1e-9)

        def pct(i: int) -> float | None:
            if self._start[i] is None or end[i] is None:
                return None
            return round(100 * (end[i] - self._start[i]) / wall, 1)

        figures = {"seconds": round(wall, 2), "postgres_pid": self.pg_pid, "machine_busy_percent": busy_percent(self._start[1], end[1]),
                   "server_cpu_percent": pct(2), "postgres_cpu_percent": pct(3), "generator_cpu_percent": pct(4)}
        if self._start[1] is not None and end[1] is not None:
            busy = 100 * (end[1][0] - self._start[1][0]) / os.sysconf("SC_CLK_TCK") / wall
            known = sum(v or 0 for k, v in figures.items() if k.endswith("cpu_percent"))
            # everything else: other work that disturbed the run
            figures["rest_of_machine_cpu_percent"] = round(busy - known, 1)
        return figures

    def rss_mb(self) -> dict[str, float | None]:
        return {"server": tree_rss_mb(self.server_pid), "postgres": tree_rss_mb(self.pg_pid)}


# --------------------------------------------------------------------------------------------
# Machine, processes, progress, report
# --------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory, OS and Python version of the machine running the bench."""
    cpu_model, mem_total = platform.processor() or "unknown", None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 1024 / 1024, 2)
                break
    except OSError:
        pass
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem_total,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "hostname": platform.node(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def default_procs() -> int:
    """Two processes when there are at least two cores: one asyncio loop tops out near
    the rates a small server reaches, and more processes only steal CPU from the server."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def split_connections(total: int, procs: int) -> list[int]:
    """Spread `total` connections over at most `procs` processes as evenly as possible."""
    procs = max(1, min(procs, total))
    return [total // procs + (1 if i < total % procs else 0) for i in range(procs)]


def progress(started: float, text: str) -> None:
    """One progress line, prefixed with the seconds since `started`."""
    print(f"  {time.time() - started:6.1f}s  {text}", flush=True)


def default_report_path(kind: str) -> str:
    return str(RESULTS_DIR / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json")


def write_report(path: str, report: dict[str, Any], indent: int = 2) -> Path:
    """Write the JSON report, then its plot beside it (same name, .png) when matplotlib is
    importable; returns the JSON path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=indent) + "\n")
    print(f"\nwrote {out}")
    try:
        import plot  # noqa: PLC0415  (this folder; needs matplotlib, an optional extra)
    except ImportError:
        print("(no plot: install the 'bench' extra for matplotlib)")
        return out
    png = plot.plot_reports([out], out.with_suffix(".png"))
    print(f"wrote {png}")
    return out
