"""What `parsnip` says when it starts: where it serves and with what, once, in a few lines.

Printed as text on stdout, or as one JSON object with `jsonLogs`; nothing with `silent`. The
same record goes to the log files. Secrets are not printed: a generated master key is shown as
the file that keeps it, a given one not at all, and a database password is masked.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from parsnip.api.logsetup import JsonFormatter, level_name, level_of, logs_folder
from parsnip.core.config import Config

logger = logging.getLogger("parsnip")


def fields(config: Config, version: str, master_key_file: str | None) -> dict[str, Any]:
    """The banner's facts, by name (the JSON form's fields)."""
    live = config.startLiveQueryServer or bool(config.liveQueryServerOptions)
    classes = (config.liveQuery or {}).get("classNames") or []
    folder = logs_folder(config)
    return {
        "version": version,
        "serverURL": config.serverURL,
        "appId": config.appId,
        "masterKey": f"kept in {master_key_file}" if master_key_file else "given (not shown)",
        "database": _database(config),
        "liveQuery": ("on" + (f" (classes: {', '.join(classes)})" if classes else "")) if live else "off",
        "processes": config.cluster,
        "logs": f"{folder} (level {level_name(level_of(config))})" if folder else
                f"console only (level {level_name(level_of(config))})",
        "metrics": f"{_root(config.serverURL)}/metrics (from {', '.join(config.metricsIps) or 'nowhere'};"
                   " elsewhere with the master key)",
    }


def announce(config: Config, version: str, master_key_file: str | None, stream: IO[str] | None = None) -> None:
    """Print the banner (unless `silent`) and record it in the log files."""
    facts = fields(config, version, master_key_file)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "parsnip %s serving %s",
                               (version, config.serverURL), None, extra={**facts, "console": False})
    out = stream or sys.stdout
    if not config.silent:
        if config.jsonLogs:
            print(JsonFormatter().format(record), file=out, flush=True)
        else:
            print(_text(facts), file=out, flush=True)
    logger.handle(record)  # the files (the console handlers skip it: printed above)


def _text(facts: dict[str, Any]) -> str:
    lines = [f"parsnip {facts['version']} serving {facts['serverURL']}"]
    for name in ("appId", "masterKey", "database", "liveQuery", "processes", "logs", "metrics"):
        lines.append(f"  {name + ':':<11} {facts[name]}")
    return "\n".join(lines)


def _database(config: Config) -> str:
    if not config.databaseURI:
        data = os.path.abspath(config.dataDir)
        return f"embedded PostgreSQL in {data} (its log: {os.path.join(data, 'pg', 'log')})"
    parts = urlsplit(config.databaseURI)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return urlunsplit(parts)


def _root(server_url: str | None) -> str:
    """`http://host:port` of the server URL (where /metrics is also served)."""
    parts = urlsplit(server_url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
