"""The embedded PostgreSQL (the `pgserver` package) for a server started without a databaseURI.

pgserver narrates every command it runs (initdb's whole output on the first start) at info
level; that goes to `<dataDir>/pgserver.log`, beside PostgreSQL's own log (`<dataDir>/pg/log`),
and only pgserver's warnings and errors reach the server's log.
"""

from __future__ import annotations

import logging
import os
import warnings

logger = logging.getLogger("parsnip.embedded")


def start(data_dir: str) -> str:
    """Start (or reuse) a PostgreSQL whose files live in `data_dir`; returns its URI.

    The data survives restarts; the server process is stopped when this process exits.
    """
    path = os.path.join(os.path.abspath(data_dir), "pg")  # beside it: the generated master key
    os.makedirs(path, exist_ok=True)
    _quiet_pgserver(os.path.join(os.path.abspath(data_dir), "pgserver.log"))
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver copes.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver  # imported here: only the embedded mode needs it

        server = pgserver.get_server(path, cleanup_mode="stop")
    return server.get_uri()


def log_path(data_dir: str) -> str:
    """Where the embedded PostgreSQL writes its own log."""
    return os.path.join(os.path.abspath(data_dir), "pg", "log")


class _Forward(logging.Handler):
    """pgserver's warnings and errors, passed on to the server's own log."""

    def emit(self, record: logging.LogRecord) -> None:
        logger.handle(record)


def _quiet_pgserver(file_path: str) -> None:
    pg_logger = logging.getLogger("pgserver")
    if any(getattr(h, "_parsnip", False) for h in pg_logger.handlers):
        return
    to_file = logging.FileHandler(file_path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    forward = _Forward(logging.WARNING)
    for handler in (to_file, forward):
        handler._parsnip = True  # type: ignore[attr-defined]
        pg_logger.addHandler(handler)
    pg_logger.setLevel(logging.INFO)
    pg_logger.propagate = False
