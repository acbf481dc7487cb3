"""The daily log files (api/logfiles.py): /scriptlog's selection equals Parse's algorithm (read
everything, keep [from, until], stable sort by time, reverse when descending, take `size`) for
any records over several days; maxLogFiles pruning; several processes appending to one file
never interleave lines; and the metrics' route labels are plain templates."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import tempfile
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from parsnip.api import logfiles, logsetup, observe
from parsnip.api.logfiles import LogQuery, parse_query, query

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _write(folder: str, stem: str, records: list[tuple[int, str]]) -> list[dict]:
    """Records (milliseconds after START, text) appended in the given order to their day's file."""
    written = []
    for ms, text in records:
        at = START + timedelta(milliseconds=ms)
        record = {"timestamp": logsetup.iso_timestamp(at.timestamp()), "level": "info", "message": text}
        with open(os.path.join(folder, f"{stem}.{at.strftime('%Y-%m-%d')}"), "a") as fh:
            fh.write(json.dumps(record) + "\n")
        written.append(record)
    return written


def _reference(written: list[dict], q: LogQuery) -> list[dict]:
    by_file = sorted(written, key=lambda r: r["timestamp"][:10])  # files are read day by day
    kept = [r for r in by_file if q.since <= datetime.fromisoformat(r["timestamp"]) <= q.until]
    kept.sort(key=lambda r: datetime.fromisoformat(r["timestamp"]))
    if q.descending:
        kept.reverse()
    return kept[:q.size]


# Times within four days, often equal (ties keep the written order), written out of order.
_records = st.lists(st.tuples(st.integers(0, 4 * 86_400_000).map(lambda ms: ms - ms % 3_600_000 * (ms % 2)),
                              st.text("abc", min_size=1, max_size=3)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(records=_records, size=st.integers(1, 15), descending=st.booleans(),
       window=st.tuples(st.integers(-1, 5 * 86_400), st.integers(-1, 5 * 86_400)))
def test_selection_is_parses(records, size, descending, window):
    with tempfile.TemporaryDirectory() as folder:
        written = _write(folder, logfiles.INFO_STEM, records)
        _write(folder, logfiles.ERROR_STEM, records[:3])  # another stem: never read for info
        since, until = (START + timedelta(seconds=min(window)), START + timedelta(seconds=max(window)))
        q = LogQuery(since=since, until=until, size=size, descending=descending, errors_only=False)
        assert query(folder, q) == _reference(written, q)


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("params, expected", [
    ({}, (NOW - timedelta(days=7), NOW, 10, True, False)),
    ({"level": "error", "order": "asc", "size": "5"}, (NOW - timedelta(days=7), NOW, 5, False, True)),
    ({"level": "warn", "n": "3", "size": "9"}, (NOW - timedelta(days=7), NOW, 3, True, False)),
    ({"from": "2026-03-01", "until": "2026-03-02T10:00:00Z"},
     (datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, 10, tzinfo=timezone.utc), 10, True, False)),
    ({"from": "yesterday", "until": "", "size": "2.7"}, (NOW - timedelta(days=7), NOW, 2, True, False)),
    ({"size": "1e999"}, (NOW - timedelta(days=7), NOW, 10, True, False)),
])
def test_parameters_and_defaults(params, expected):
    q = parse_query(params, now=NOW)
    assert (q.since, q.until, q.size, q.descending, q.errors_only) == expected


@pytest.mark.parametrize("keep, left", [
    (None, ["01", "02", "03", "04", "05"]), ("2", ["04", "05"]), (3, ["03", "04", "05"]), ("2d", ["04", "05"]),
    ("10d", ["01", "02", "03", "04", "05"]), ("nonsense", ["01", "02", "03", "04", "05"]),
])
def test_max_log_files_keeps_the_newest(keep, left):
    with tempfile.TemporaryDirectory() as folder:
        for day in range(1, 6):
            for stem in (logfiles.INFO_STEM, logfiles.ERROR_STEM):
                open(os.path.join(folder, f"{stem}.2026-03-{day:02d}"), "w").close()
        open(os.path.join(folder, "unrelated.txt"), "w").close()
        logfiles.prune(folder, logfiles.INFO_STEM, keep, "2026-03-05")
        names = sorted(os.listdir(folder))
        assert [n[-2:] for n in names if n.startswith(logfiles.INFO_STEM)] == left
        assert len([n for n in names if n.startswith(logfiles.ERROR_STEM)]) == 5 and "unrelated.txt" in names


def _append_many(folder: str, tag: str) -> None:
    handler = logfiles.DailyFileHandler(folder, logfiles.INFO_STEM, logging.INFO)
    handler.setFormatter(logsetup.JsonFormatter())
    log = logging.getLogger(f"test.append.{tag}")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    for i in range(300):
        log.info("%s %d %s", tag, i, tag * 20_000)  # lines far longer than a pipe's atomic write
    handler.close()


def test_processes_appending_to_one_file_never_interleave_lines():
    with tempfile.TemporaryDirectory() as folder:
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=_append_many, args=(folder, tag)) for tag in "xyz"]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        (name,) = os.listdir(folder)
        with open(os.path.join(folder, name)) as fh:
            messages = [json.loads(line)["message"] for line in fh]
        assert len(messages) == 900
        assert all(m.split()[2] == m[0] * 20_000 for m in messages)


def test_route_labels_are_plain_templates():
    from parsnip.api.routes.pages import PAGES
    from parsnip.api.routes.table import ROUTES

    templates = {route.template for route in (*ROUTES, *PAGES)}
    for route in (*ROUTES, *PAGES):  # each label is the route's own template, not one guessed from its regex
        path = route.template.replace(":page", "index.html").replace(":", "x")
        assert route.pattern.match(path) and observe._template(route.method, path, route.handler) == route.template
    assert "/classes/:className/:objectId" in templates and "/users/me" in templates
    assert "/apps/:appId/verify_email" in templates and "/scriptlog" in templates
    assert all(set(t) <= set("/:._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for t in templates)
