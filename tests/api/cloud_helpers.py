"""A real Parsnip server whose Cloud Code is a module a test writes (`--cloud`)."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import ServerInfo, _admin_sql, _with_database, start_server, stop_server


@contextmanager
def server_with_cloud(admin_dsn: str, folder: Path, source: str, *extra: str) -> Iterator[ServerInfo]:
    """A server on a database of its own, loading `source` as its cloud module (`extra`: more
    command-line options)."""
    path = folder / "main.py"
    path.write_text(source)
    name = "parsnip_c_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--cloud", str(path), *extra)
    try:
        yield info
    finally:
        stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
