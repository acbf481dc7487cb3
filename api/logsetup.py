"""Logging for the `parsnip` command, under Parse Server's option names: `logLevel` (or
`verbose`/VERBOSE for debug), console lines as text or, with `jsonLogs`/JSON_LOGS, as JSON
objects on stdout, none with `silent`, and JSON files per day in `logsFolder` (api/logfiles.py).

Every record made while a request is served carries its id (`core/logcontext.py`). Other
libraries are kept quiet: hypercorn's "Running on" line only at debug level (the banner says it),
the embedded PostgreSQL's output in its own file (core/db/embedded.py).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import IO, Any

from parsnip.api.logfiles import ERROR_STEM, INFO_STEM, DailyFileHandler
from parsnip.core.config import Config
from parsnip.core.logcontext import REQUEST_ID

# Parse's level names (winston's) and Python's; verbose and silly are debug here.
_LEVELS = {
    "error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING, "info": logging.INFO,
    "verbose": logging.DEBUG, "debug": logging.DEBUG, "silly": logging.DEBUG, "silent": logging.CRITICAL + 10,
}
_NAMES = {logging.CRITICAL: "error", logging.ERROR: "error", logging.WARNING: "warn", logging.INFO: "info",
          logging.DEBUG: "debug"}
# Attributes every LogRecord has; anything else came from `extra=` and goes into the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_HIDDEN = frozenset({"console"})  # extra attributes that steer handlers and are not written


def level_of(config: Config) -> int:
    """The Python logging level of `logLevel` (Parse's names accepted); `verbose` means debug."""
    if config.verbose:
        return logging.DEBUG
    return _LEVELS.get(str(config.logLevel).strip().lower(), logging.INFO)


def level_name(levelno: int) -> str:
    """Parse's name for a level (`warn`, not `warning`)."""
    return _NAMES.get(levelno) or ("debug" if levelno < logging.INFO else "error")


def iso_timestamp(created: float) -> str:
    """A record's time as Parse writes it: UTC, milliseconds, `Z`."""
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, logger, message, requestId (while a
    request is served), any `extra=` fields, and the traceback as `stack`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": iso_timestamp(record.created),
            "level": level_name(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["requestId"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _HIDDEN and key not in out:
                out[key] = value
        if record.exc_info:
            out["stack"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        head = f"{record.asctime} {record.levelname} {record.name}"
        request_id = REQUEST_ID.get()
        return f"{head} [{request_id}] {record.message}" if request_id is not None else f"{head} {record.message}"


def _console_filter(record: logging.LogRecord) -> bool:
    return getattr(record, "console", True)


def configure(config: Config, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> str | None:
    """Set up logging for this process from `config`; returns the logs folder in use (None: no
    files). Calling it again replaces what an earlier call set up."""
    level = level_of(config)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_parsnip", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    handlers: list[logging.Handler] = []
    if not config.silent:
        if config.jsonLogs:
            console = logging.StreamHandler(stdout or sys.stdout)
            console.setFormatter(JsonFormatter())
        else:
            console = logging.StreamHandler(stderr or sys.stderr)
            console.setFormatter(TextFormatter())
        console.addFilter(_console_filter)
        handlers.append(console)
    folder = logs_folder(config)
    if folder is not None:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            folder = None
            print(f"parsnip: cannot create logsFolder ({e}); logging to files is off", file=stderr or sys.stderr)
    if folder is not None:
        for stem, file_level in ((INFO_STEM, level), (ERROR_STEM, max(level, logging.ERROR))):
            files = DailyFileHandler(folder, stem, file_level, config.maxLogFiles)
            files.setFormatter(JsonFormatter())
            handlers.append(files)
    for handler in handlers:
        handler._parsnip = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.captureWarnings(True)
    # hypercorn says "Running on ..." at info level; the banner already does.
    logging.getLogger("hypercorn.error").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    return folder


def logs_folder(config: Config) -> str | None:
    """The absolute logs folder, or None when files are off (logsFolder null or empty)."""
    if not config.logsFolder:
        return None
    return os.path.abspath(config.logsFolder)
