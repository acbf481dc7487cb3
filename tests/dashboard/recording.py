"""What the Parse Dashboard asked of a server and how it was answered, reduced to what must match
Parse Server: `drive.mjs` records every request, `summarize` turns a recording into request shapes
(method and path, status, Parse error code, the answer's top-level keys) and the classes the
data browser listed, and `compare` names each answer of ours that Parse Server would not give.

The reference summary, `parse-server-9.10.json`, is made from a recording against Parse Server:

    python -m tests.dashboard.recording baseline parse.json > tests/dashboard/parse-server-9.10.json
    python -m tests.dashboard.recording compare parsnip.json tests/dashboard/parse-server-9.10.json
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

# Parse lists these system classes in /schemas once they exist; never `_Hooks`, `_JobStatus`,
# `_JobSchedule`, `_PushStatus`, `_GlobalConfig`, `_Idempotency` or `_GraphQLConfig`.
LISTED_SYSTEM_CLASSES = frozenset({"_User", "_Role", "_Session", "_Installation", "_Product", "_Audience"})
# The classes drive.mjs makes; others in a listing are left by whatever else used the database.
_OURS = re.compile(r"^Dash")
# Paths of other classes' rows are not the Dashboard's doing either.
_FOREIGN_CLASS_PATH = re.compile(r"/classes/(?!Dash|_User|_Role|_Installation|_Session|_JobStatus)")


def _path_key(method: str, path: str) -> str:
    path = re.sub(r"^(/classes/[^/]+|/users|/sessions|/installations|/roles)/[A-Za-z0-9]{10}(?=/|$)",
                  r"\1/:id", path)  # object ids
    path = re.sub(r"/[0-9a-f]{32}_[^/]*", "/:file", path)  # stored file names
    return f"{method} {path}"


def _shape(record: dict) -> str:
    try:
        body = json.loads(record["body"])
    except (ValueError, TypeError):
        return str(record["status"])
    if isinstance(body, dict):
        code = f" code {body['code']}" if "code" in body else ""
        return f"{record['status']}{code} {{{','.join(sorted(body))}}}"
    return str(record["status"])


def _cut_off(record: dict) -> bool:
    """A request the next navigation cut off says nothing about the server."""
    return (record["status"] == "failed" and "ERR_ABORTED" in record["body"]) or (
        record["status"] == 200 and record["body"] in ("", "<unavailable>"))


def summarize(recording: dict) -> dict[str, Any]:
    """The request shapes of a drive.mjs recording, the classes its /schemas answers listed,
    its failed steps and its page errors."""
    requests: dict[str, set[str]] = {}
    classes: set[str] = set()
    for record in recording["records"]:
        if record["method"] == "PAGEERROR" or _cut_off(record):
            continue
        requests.setdefault(_path_key(record["method"], record["path"]), set()).add(_shape(record))
        if record["method"] == "GET" and record["path"] == "/schemas" and record["status"] == 200:
            classes |= {c["className"] for c in json.loads(record["body"]).get("results", [])}
    return {
        "requests": {key: sorted(shapes) for key, shapes in sorted(requests.items())},
        "listed": sorted(c for c in classes if c.startswith("_") or _OURS.match(c)),
        "failed_steps": [s for s in recording["steps"] if not s["ok"]],
        "page_errors": sorted({r["body"] for r in recording["records"] if r["method"] == "PAGEERROR"}),
    }


def _is_error(shape: str) -> bool:
    return not shape.startswith(("1", "2", "3"))


def _keys(shape: str) -> set[str]:
    found = re.search(r"\{(.*)\}$", shape)
    return set(filter(None, found.group(1).split(","))) if found else set()


def compare(ours: dict, parse: dict) -> list[str]:
    """Each way our summary differs from Parse Server's that a Dashboard user would meet: a
    failed step, a page error, a request that failed outright, an error answer Parse would not
    give, an answer missing keys Parse's has, a class Parse would not list."""
    problems = [f"step {s['step']!r} failed: {s.get('error')}" for s in ours["failed_steps"]]
    problems += [f"page error in the browser: {e}" for e in ours["page_errors"] if e not in parse["page_errors"]]
    for key, shapes in ours["requests"].items():
        reference = set(parse["requests"].get(key, ()))
        for shape in shapes:
            if shape == "failed":
                problems.append(f"{key}: the request failed (no answer)")
            elif _is_error(shape) and shape not in reference and not _FOREIGN_CLASS_PATH.search(key):
                problems.append(f"{key}: answered {shape}; Parse Server answers {sorted(reference) or 'no such request'}")
        ok_ours = set().union(*(_keys(s) for s in shapes if not _is_error(s)))
        ok_parse = set().union(*(_keys(s) for s in reference if not _is_error(s)))
        if ok_ours and ok_parse - ok_ours:
            problems.append(f"{key}: the answer lacks {sorted(ok_parse - ok_ours)}, which Parse Server's has")
    for name in ours["listed"]:
        if name.startswith("_") and name not in LISTED_SYSTEM_CLASSES:
            problems.append(f"/schemas lists {name}, which Parse Server never lists")
    ours_made = {c for c in ours["listed"] if _OURS.match(c)}
    parse_made = {c for c in parse["listed"] if _OURS.match(c)}
    if ours_made != parse_made:
        problems.append(f"/schemas listed {sorted(ours_made)}; Parse Server listed {sorted(parse_made)}")
    return problems


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "baseline":
        with open(argv[1]) as f:
            json.dump(summarize(json.load(f)), sys.stdout, indent=1)
        print()
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        with open(argv[1]) as f, open(argv[2]) as g:
            reference = json.load(g)
            if "records" in reference:  # a recording, not a summary
                reference = summarize(reference)
            problems = compare(summarize(json.load(f)), reference)
        print("\n".join(problems) or "no differences a Dashboard user would meet")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
