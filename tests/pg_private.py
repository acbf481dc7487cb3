"""A private PostgreSQL that a test may stop and start again (database outage tests).

Built from the `pgserver` package's binaries (initdb, pg_ctl) in a temporary folder, listening on
a free port of 127.0.0.1: never the machine's PostgreSQL, which every other test shares. As root,
the server runs as pgserver's own system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """initdb once; then `start()`, `stop()` (fast: sessions are ended, as in a restart) at will."""

    def __init__(self) -> None:
        # Located, not imported: importing pgserver warns about XDG_RUNTIME_DIR on some machines.
        spec = importlib.util.find_spec("pgserver")
        assert spec is not None and spec.submodule_search_locations, "the pgserver package is needed"
        self.bin = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        self.root = Path(tempfile.mkdtemp(prefix="parsnip-private-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # as pgserver does: its own system user
            import pwd

            self.user = "pgserver"
            try:
                entry = pwd.getpwnam(self.user)
            except KeyError:
                subprocess.run(["useradd", "-s", "/bin/bash", self.user], check=True, capture_output=True)
                entry = pwd.getpwnam(self.user)
            for parent in self.root.parents:  # others may traverse to the folder
                parent.chmod(parent.stat().st_mode | 0o055)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--encoding=utf8", "-U", "postgres")

    def _run(self, exe: str, *args: str, timeout: float = 60) -> None:
        subprocess.run([str(self.bin / exe), *args], check=True, timeout=timeout, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def snapshot(self) -> None:
        """Copy the stopped server's files, to `restore()` later (a replica that lags behind)."""
        subprocess.run(["cp", "-a", str(self.data), str(self.root / "snapshot")], check=True)

    def restore(self) -> None:
        """Put the stopped server's files back as they were at `snapshot()`."""
        shutil.rmtree(self.data)
        subprocess.run(["cp", "-a", str(self.root / "snapshot"), str(self.data)], check=True)

    def running(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg():
    """A running private PostgreSQL for one test, removed afterwards."""
    pg = PrivatePostgres()
    pg.start()
    deadline = time.monotonic() + 10
    while not pg.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield pg
    pg.destroy()
