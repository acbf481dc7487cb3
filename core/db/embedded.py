"""The embedded PostgreSQL (the `pgserver` package) for a server started without a databaseURI."""

from __future__ import annotations

import os


def start(data_dir: str) -> str:
    """Start (or reuse) a PostgreSQL whose files live in `data_dir`; returns its URI.

    The data survives restarts; the server process is stopped when this process exits.
    """
    import pgserver  # imported here: only the embedded mode needs it

    path = os.path.join(os.path.abspath(data_dir), "pg")  # beside it: the generated master key
    os.makedirs(path, exist_ok=True)
    server = pgserver.get_server(path, cleanup_mode="stop")
    return server.get_uri()
