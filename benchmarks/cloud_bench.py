#!/usr/bin/env python3
"""Cloud Code benchmark for any Parse-compatible server (Parsnip or Parse Server), side by side.

What: three phases, each for a fixed duration at a fixed number of concurrent keep-alive
connections (32 by default), on a loopback server whose Cloud Code is benchmarks/cloud/
(`main.py` for Parsnip; the peer's cloud/main.js with `main.js` appended for Parse Server):

* ``function`` -- ``POST /functions/hello`` (``Parse.Cloud.run("hello")``), answer checked to be
  ``{"result": "Hello world!"}``;
* ``hooked``   -- ``POST /classes/BenchHooked``: a class with a trivial beforeSave (it sets
  ``checked``, which the save response must carry, so a server without the trigger counts errors)
  and an afterSave that writes a ``BenchAudit`` object; after the phase the benchmark checks that
  there is one ``BenchAudit`` per ``BenchHooked`` created;
* ``plain``    -- ``POST /classes/BenchPlain_<random>``: creates into a class with no triggers,
  to compare with ``rest_bench.py``'s create phase (a class without triggers must lose nothing).

It prints each phase's requests/s, latency p50/p90/p99/max and errors, and writes a JSON file
with the results, the settings and the machine to benchmarks/results/. The HTTP client, worker
processes and figures are rest_bench.py's (same bounds: loopback only, ``--duration``,
``--max-requests``, ``--timeout``); the benchmark's classes are purged and dropped at the end
unless ``--keep-class``. Only the Python standard library is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import time
import urllib.parse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rest_bench import (
    PhaseResult, Target, admin_request, default_procs, encode_request, format_table, game_score,
    machine_info, make_target, run_phase, server_info,
)

PHASES = ("function", "hooked", "plain")
HOOKED_CLASS = "BenchHooked"  # the class benchmarks/cloud/ puts its triggers on
AUDIT_CLASS = "BenchAudit"  # what its afterSave writes
FUNCTION_ANSWER = {"result": "Hello world!"}


# --------------------------------------------------------------------------------------------
# Requests and checks of each phase (module-level: rest_bench's worker processes import them)
# --------------------------------------------------------------------------------------------


def build_requests(job: Any, rng: random.Random) -> list[bytes]:
    """A pool of pre-encoded requests for the phase; connections cycle through it."""
    target = job.target
    if job.phase == "function":
        return [encode_request(target, "POST", "/functions/hello", b"{}")]
    cls = HOOKED_CLASS if job.phase == "hooked" else urllib.parse.quote(target.class_name)
    return [encode_request(target, "POST", f"/classes/{cls}", json.dumps(game_score(rng), separators=(",", ":")).encode())
            for _ in range(512)]


def check_response(phase: str, status: int, body: bytes) -> tuple[bool, Any]:
    """(ok, parsed JSON): the answer a client relies on, not merely a 2xx."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False, None
    if phase == "function":
        return status == 200 and doc == FUNCTION_ANSWER, doc
    created = status == 201 and isinstance(doc, dict) and "objectId" in doc
    if phase == "hooked":  # the beforeSave's change is in the save's answer (Parse's rule)
        return created and doc.get("checked") is True, doc
    return created, doc


# --------------------------------------------------------------------------------------------
# Setup and checks over plain blocking HTTP (not measured)
# --------------------------------------------------------------------------------------------


def count(target: Target, class_name: str) -> int:
    """How many objects the class holds (0 when it does not exist). With a `where`: Parse Server
    on PostgreSQL answers a count without one from the planner's estimate, not the table."""
    where = urllib.parse.quote('{"objectId":{"$exists":true}}')
    status, doc = admin_request(target, "GET", f"/classes/{urllib.parse.quote(class_name)}?count=1&limit=0&where={where}")
    return int(doc.get("count", 0)) if status == 200 and isinstance(doc, dict) else 0


def after_save_check(target: Target, hooked_before: int, audit_before: int, wait: float = 5.0) -> dict[str, Any]:
    """One BenchAudit per BenchHooked created during the phase: the afterSave ran for each."""
    deadline = time.monotonic() + wait
    while True:
        hooked = count(target, HOOKED_CLASS) - hooked_before
        audits = count(target, AUDIT_CLASS) - audit_before
        if audits == hooked or time.monotonic() > deadline:
            return {"hooked_created": hooked, "after_save_writes": audits, "ok": audits == hooked and hooked > 0}
        time.sleep(0.2)


def drop(target: Target, class_name: str) -> None:
    """Purge a class's objects and delete its schema (quietly when it does not exist)."""
    cls = urllib.parse.quote(class_name)
    status, doc = admin_request(target, "DELETE", f"/purge/{cls}")
    if status == 200:
        status, doc = admin_request(target, "DELETE", f"/schemas/{cls}")
    if status != 200 and count(target, class_name):
        print(f"warning: could not drop class {class_name}: HTTP {status}: {doc}", file=sys.stderr)


def check_cloud_code(target: Target) -> None:
    """Stop early, saying why, when the server does not run benchmarks/cloud/'s code."""
    status, doc = admin_request(target, "POST", "/functions/hello", {})
    if (status, doc) != (200, FUNCTION_ANSWER):
        raise SystemExit(f"POST /functions/hello answered HTTP {status}: {doc}; start the server with "
                         "benchmarks/cloud/ (see benchmarks/README.md)")
    status, doc = admin_request(target, "POST", f"/classes/{HOOKED_CLASS}", {"probe": True})
    if status != 201 or doc.get("checked") is not True:
        raise SystemExit(f"{HOOKED_CLASS} has no beforeSave here (HTTP {status}: {doc}); start the server "
                         "with benchmarks/cloud/ (see benchmarks/README.md)")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:1337/parse", help="server URL incl. mount path (loopback only)")
    parser.add_argument("--app-id", default="APP")
    parser.add_argument("--master-key", default="MASTER", help="for setup, checks and cleanup")
    parser.add_argument("--rest-key", default=None, help="X-Parse-REST-API-Key to send with load requests, if needed")
    parser.add_argument("--load-master-key", action="store_true", help="send the master key with the benchmark requests too")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections (total over all processes)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the start of each phase")
    parser.add_argument("--procs", type=int, default=default_procs(), help="load-generator processes")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma list of " + ",".join(PHASES))
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="cap on requests per phase")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    parser.add_argument("--seed", type=int, default=12345, help="random seed for request bodies and order")
    parser.add_argument("--keep-class", action="store_true", help="do not purge and drop the benchmark's classes")
    parser.add_argument("--label", default=None, help="free text stored in the JSON (e.g. 'parsnip abc123')")
    parser.add_argument("--json-out", default=None, help="output file (default benchmarks/results/cloud-<timestamp>.json)")
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    bad = [p for p in args.phases if p not in PHASES]
    if bad or not args.phases:
        parser.error(f"unknown phase(s) {bad}; choose from {','.join(PHASES)}")
    if args.concurrency < 1 or args.procs < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency and --procs must be >= 1, --duration > 0, --warmup >= 0")
    args.class_name = "BenchPlain_" + "".join(random.choices(string.ascii_letters + string.digits, k=8))
    if args.json_out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        args.json_out = str(Path(__file__).resolve().parent / "results" / f"cloud-{stamp}.json")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected phases and write the JSON report; returns a process exit code."""
    args = parse_args(argv)
    target = make_target(args)
    status, _ = admin_request(target, "GET", "/health")
    if status != 200:
        raise SystemExit(f"{args.url}/health answered HTTP {status}; is the server up?")
    check_cloud_code(target)
    info = server_info(target)
    print(f"target {args.url} {info.get('parseServerVersion') or ''}; concurrency {args.concurrency} over "
          f"{args.procs} process(es), {args.warmup:g}s warm-up + {args.duration:g}s per phase", flush=True)
    results: list[PhaseResult] = []
    checks: dict[str, Any] = {}
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    load_at_start = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    try:
        for phase in args.phases:
            before = (count(target, HOOKED_CLASS), count(target, AUDIT_CLASS)) if phase == "hooked" else None
            print(f"phase {phase} ...", end=" ", flush=True)
            result, _ = run_phase(phase, args, target, [], build=build_requests, check=check_response)
            results.append(result)
            print(f"{result.requests_per_second:.1f} req/s, p50 {result.latency_ms['p50']:.1f} ms, "
                  f"p99 {result.latency_ms['p99']:.1f} ms, {result.errors} errors"
                  + (f" (first: {result.first_error})" if result.first_error else ""), flush=True)
            if before is not None:
                checks["after_save"] = after_save_check(target, *before)
                print(f"  afterSave: {checks['after_save']['after_save_writes']} {AUDIT_CLASS} written for "
                      f"{checks['after_save']['hooked_created']} {HOOKED_CLASS} created", flush=True)
    finally:
        if not args.keep_class:
            for name in (args.class_name, HOOKED_CLASS, AUDIT_CLASS):
                drop(target, name)
    print()
    print(format_table(results))
    report = {
        "benchmark": "cloud_bench",
        "started": started,
        "server": info,
        "settings": {**{k: getattr(args, k) for k in ("url", "app_id", "concurrency", "duration", "warmup", "procs",
                                                     "phases", "class_name", "max_requests", "timeout", "seed",
                                                     "load_master_key", "label")},
                     "load_headers": sorted(target.load_headers)},
        "machine": machine_info(),
        "load_average_at_start": load_at_start,
        "results": [asdict(r) for r in results],
        "checks": checks,
    }
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    failed = any(r.errors for r in results) or not checks.get("after_save", {"ok": True})["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
