#!/usr/bin/env python3
"""What the LiveQuery matcher's regular expressions cost: Python's `re` (the engine before issue
10) beside Parsnip's `core/query/match_regex.py` (RE2, or the `regex` module with a time
limit for what RE2 cannot take), per match, for usual patterns and for catastrophic ones.

Three tables:

- usual patterns on short texts (what a chat or dashboard subscription holds): ns per match,
  each engine's best of `--repeat` runs of `--number` matches;
- whole `matches()` calls of the in-memory matcher for a few subscription shapes (one with a
  regex, some without), so the cost is seen beside the rest of a match;
- catastrophic patterns on growing texts: seconds per match (re is stopped at `--re-limit`
  characters, past which it takes minutes).

    .venv/bin/python benchmarks/regex_bench.py --json-out benchmarks/results/regex.json
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsnip.core.query.ast import parse_where  # noqa: E402
from parsnip.core.query.match import matches  # noqa: E402
from parsnip.core.query.match_regex import compile_regex  # noqa: E402

USUAL = [  # (pattern, $options, a text it matches, one it does not: most events meet the latter)
    ("^app", "", "apple pie with cream", "cherry pie with cream"),
    ("pie", "", "apple pie with cream", "apple tart with cream"),  # the JS SDK's contains()
    ("Cherry.Pie", "s", "a Cherry\nPie with cream", "a cherry pie with cream"),
    ("^cherry", "i", "Cherry Pie", "Apple Pie"),
    ("room-1[0-9]$", "", "room-17", "room-27"),
    (r"\w+@example\.com$", "i", "Someone@Example.com", "someone@example.org"),
    ("error|warn", "", "this line has a warning in it", "this line says nothing much at all, really"),
    ("é", "i", "Élan vital is the word here", "Elan vital is the word here"),
    (r"^\d{4}-\d{2}-\d{2}", "", "2024-05-01T10:00:00Z", "May 1st, 2024"),
]
SHAPES = [
    ("equality", {"room": "r1"}, {"room": "r1", "n": 3, "name": "apple pie"}),
    ("$in + $gt", {"status": {"$in": ["a", "b"]}, "score": {"$gt": 5}}, {"status": "b", "score": 9}),
    ("$regex", {"name": {"$regex": "^app", "$options": "i"}}, {"room": "r1", "name": "Apple pie"}),
    ("$or of regexes", {"$or": [{"name": {"$regex": "pie$"}}, {"tag": {"$regex": "^x"}}]},
     {"name": "apple pie", "tag": "y"}),
]
CATASTROPHIC = [r"^(a+)+$", r"^(a|a?)+$", r"(x+x+)+y"]


def _re(pattern: str, options: str) -> re.Pattern:
    flags = sum(f for o, f in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)) if o in options)
    return re.compile(pattern, flags)


def _best_ns(fn, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e9


def usual(number: int, repeat: int) -> list[dict]:
    rows = []
    for pattern, options, hit, miss in USUAL:
        old, new = _re(pattern, options), compile_regex(pattern, options)
        assert new.search(hit) and not new.search(miss) and old.search(hit) and not old.search(miss), pattern
        row = {"pattern": pattern, "options": options, "engine": "RE2" if new.linear else "regex+timeout"}
        for name, text in (("hit", hit), ("miss", miss)):
            row[f"re_{name}_ns"] = _best_ns(lambda: old.search(text) is not None, number, repeat)
            row[f"parsnip_{name}_ns"] = _best_ns(lambda: new.search(text), number, repeat)
        rows.append(row)
    return rows


def shapes(number: int, repeat: int) -> list[dict]:
    rows = []
    for name, where, obj in SHAPES:
        node = parse_where(where)
        rows.append({"shape": name, "matches_ns": _best_ns(lambda: matches(node, obj), number, repeat)})
    return rows


def catastrophic(re_limit: int) -> list[dict]:
    rows = []
    for pattern in CATASTROPHIC:
        old, new = _re(pattern, ""), compile_regex(pattern, "")
        for n in (16, 20, 22, 24, 10_000, 1_000_000):
            text = "a" * n + "!" if "a" in pattern else "x" * n
            started = time.perf_counter()
            new.search(text)
            ours = time.perf_counter() - started
            theirs = None
            if n <= re_limit:
                started = time.perf_counter()
                old.search(text)
                theirs = time.perf_counter() - started
            rows.append({"pattern": pattern, "chars": n, "re_s": theirs, "parsnip_s": ours})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--number", type=int, default=100_000, help="matches per timing run")
    p.add_argument("--repeat", type=int, default=5, help="timing runs (the best is kept)")
    p.add_argument("--re-limit", type=int, default=22, help="longest catastrophic text given to re")
    p.add_argument("--json-out", help="write the report here")
    args = p.parse_args()
    report = {"benchmark": "regex", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
              "usual": usual(args.number, args.repeat), "shapes": shapes(args.number, args.repeat),
              "catastrophic": catastrophic(args.re_limit)}
    print(f"{'pattern':24} {'opt':3} {'engine':7} {'re hit':>7} {'ours hit':>9} {'re miss':>8} {'ours miss':>10}  (ns)")
    for r in report["usual"]:
        print(f"{r['pattern']:24} {r['options']:3} {r['engine']:7} {r['re_hit_ns']:7.0f} {r['parsnip_hit_ns']:9.0f}"
              f" {r['re_miss_ns']:8.0f} {r['parsnip_miss_ns']:10.0f}")
    print(f"\n{'matches() of':24} {'ns':>8}")
    for r in report["shapes"]:
        print(f"{r['shape']:24} {r['matches_ns']:8.0f}")
    print(f"\n{'catastrophic':16} {'chars':>9} {'re s':>10} {'parsnip s':>10}")
    for r in report["catastrophic"]:
        old = f"{r['re_s']:10.4f}" if r["re_s"] is not None else f"{'(skipped)':>10}"
        print(f"{r['pattern']:16} {r['chars']:9,} {old} {r['parsnip_s']:10.5f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
