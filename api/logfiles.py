"""Log files in `logsFolder`, laid out as Parse Server's: one JSON object per line, a file per
day, `parse-server.info.<date>` (every record at the configured level and above) and
`parse-server.err.<date>` (errors only); and `query`, what GET /scriptlog reads from them.

Dates are UTC (in names and in each record's `timestamp`), so a day's file holds exactly that
day's records. Each record is one `write(2)` on a file opened with O_APPEND, so the processes of
`--cluster` share the files without interleaving lines.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

INFO_STEM = "parse-server.info"
ERROR_STEM = "parse-server.err"
_DATED = re.compile(r"^(?P<stem>parse-server\.(?:info|err))\.(?P<day>\d{4}-\d{2}-\d{2})$")


class DailyFileHandler(logging.Handler):
    """Appends each record (formatted as one line) to `<folder>/<stem>.<UTC date>`."""

    def __init__(self, folder: str, stem: str, level: int, keep: str | int | None = None) -> None:
        super().__init__(level)
        self.folder, self.stem, self.keep = folder, stem, keep
        self._day: str | None = None
        self._fd: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            day = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%d")
            if day != self._day:
                self._open(day)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            self.handleError(record)

    def _open(self, day: str) -> None:
        self._close_fd()
        path = os.path.join(self.folder, f"{self.stem}.{day}")
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._day = day
        prune(self.folder, self.stem, self.keep, day)

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self.lock:
            self._close_fd()
        super().close()


def prune(folder: str, stem: str, keep: str | int | None, today: str) -> None:
    """Delete the stem's files beyond `keep` (Parse's maxLogFiles): a number of files, or of
    days with a `d` suffix ("14d"); None keeps everything."""
    if keep in (None, ""):
        return
    text = str(keep).strip().lower()
    days = text.endswith("d")
    try:
        count = int(float(text[:-1] if days else text))
    except ValueError:
        return
    if count <= 0:
        return
    dated = sorted(day for name, day in _files(folder) if name == stem)
    if days:
        oldest = (datetime.strptime(today, "%Y-%m-%d") - timedelta(days=count - 1)).strftime("%Y-%m-%d")
        old = [d for d in dated if d < oldest]
    else:
        old = dated[:-count] if len(dated) > count else []
    for day in old:
        try:
            os.remove(os.path.join(folder, f"{stem}.{day}"))
        except OSError:
            pass


def _files(folder: str) -> list[tuple[str, str]]:
    """(stem, day) of each log file in `folder`."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [(m.group("stem"), m.group("day")) for m in map(_DATED.match, names) if m]


# -- reading: GET /scriptlog -------------------------------------------------------------------

@dataclass
class LogQuery:
    """Parse's /scriptlog options, already parsed (see `parse_query`)."""

    since: datetime
    until: datetime
    size: int
    descending: bool
    errors_only: bool


def parse_query(params: dict[str, Any], now: datetime | None = None) -> LogQuery:
    """Parse's LoggerController defaults: from a week ago, until now, 10 records, newest first,
    `level=error` reads the error records and any other level all of them; `n` overrides `size`;
    a value that cannot be read falls back to its default."""
    now = now or datetime.now(timezone.utc)
    size_text = params.get("n") or params.get("size")
    return LogQuery(
        since=_date(params.get("from")) or now - timedelta(days=7),
        until=_date(params.get("until")) or now,
        size=_size(size_text),
        descending=params.get("order", "desc") != "asc",
        errors_only=params.get("level") == "error",
    )


def _size(text: Any) -> int:
    try:
        size = int(float(str(text)))
    except (TypeError, ValueError, OverflowError):
        return 10
    return size if size > 0 else 10  # Parse: Number(size) || 10


def _date(text: Any) -> datetime | None:
    """An ISO 8601 date or date-time as JavaScript's Date reads it: a date alone is UTC
    midnight, a date-time without an offset is local time; anything else is None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc) if "T" not in text and " " not in text else value.astimezone()
    return value


def query(folder: str | None, q: LogQuery) -> list[dict[str, Any]]:
    """The records of `q`, read from the daily files: the `size` newest (or oldest) whose
    timestamp is within [since, until], newest first unless ascending. Records with equal
    timestamps keep the order they were written in (reversed when descending), as Parse's."""
    if not folder:
        return []
    stem = ERROR_STEM if q.errors_only else INFO_STEM
    first, last = q.since.astimezone(timezone.utc).date().isoformat(), q.until.astimezone(timezone.utc).date().isoformat()
    days = sorted((d for name, d in _files(folder) if name == stem and first <= d <= last), reverse=q.descending)
    found: list[tuple[datetime, int, dict]] = []
    seq = 0
    for day in days:
        # A day's file holds only that day's records: once enough are found, older (newer) days
        # cannot contribute to the newest (oldest) `size`.
        if len(found) >= q.size:
            break
        try:
            with open(os.path.join(folder, f"{stem}.{day}"), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    record = _record(line)
                    if record is None:
                        continue
                    at = record[0]
                    if q.since <= at <= q.until:
                        seq += 1
                        found.append((at, seq, record[1]))
        except OSError:
            continue
    found.sort(key=lambda r: (r[0], r[1]), reverse=q.descending)
    return [r[2] for r in found[:q.size]]


def _record(line: str) -> tuple[datetime, dict] | None:
    try:
        record = json.loads(line)
        at = datetime.fromisoformat(record["timestamp"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(record, dict):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at, record
