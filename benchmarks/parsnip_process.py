"""A real `parsnip` server for a benchmark: started on a free loopback port over a database, its
output in a log file, ready once /health answers 200; stopped with SIGTERM (SIGKILL after 30 s).

Standard library only, so the scripts that use it still measure a running server without the
repository's environment.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    process: subprocess.Popen
    url: str  # http://127.0.0.1:<port>/parse
    log: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(database_uri: str, app_id: str, master_key: str, extra: Sequence[str] = (), *,
          log_prefix: str = "bench-server-", timeout: float = 120.0) -> Server:
    """`python -m parsnip.api.cli` with `extra` options; exits the benchmark if it does not come up."""
    port = free_port()
    log = tempfile.mktemp(prefix=log_prefix, suffix=".log")
    cmd = [sys.executable, "-m", "parsnip.api.cli", "--appId", app_id, "--masterKey", master_key,
           "--databaseURI", database_uri, "--host", "127.0.0.1", "--port", str(port), "--logLevel", "warning",
           *extra]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}/parse", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"parsnip exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"parsnip did not answer /health in {timeout:.0f} s; see {log}")
