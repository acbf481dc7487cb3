"""What a real `parsnip` process prints when it starts: the banner once (URL, appId, where the
master key is kept, database, LiveQuery, processes, logs, metrics), then nothing more at the
default level: no initdb dump from the embedded PostgreSQL (it goes to a file in dataDir), no
hypercorn "Running on" lines, in one process or several."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, _free_port

BANNER_LINES = 8


def run_until_healthy(args: list[str], cwd: str, timeout: float = 60) -> tuple[str, str, int]:
    """Start parsnip, wait for /health, stop it with SIGTERM; (stdout, stderr, port)."""
    port = _free_port()
    out, err = Path(cwd, "stdout"), Path(cwd, "stderr")
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([sys.executable, "-m", "parsnip.api.cli", "--host", "127.0.0.1", "--port", str(port), *args],
                                cwd=cwd, stdout=o, stderr=e, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, err.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/parse/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "parsnip did not start"
            time.sleep(0.1)
        time.sleep(0.5)  # anything printed just after start counts too
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return out.read_text(), err.read_text(), port


def test_first_start_on_the_embedded_database_prints_the_banner_and_nothing_else():
    cwd = tempfile.mkdtemp(prefix="parsnip-start-")
    out, err, port = run_until_healthy(["--startLiveQueryServer", "--liveQuery", '{"classNames": ["Message"]}'], cwd)
    data = os.path.join(cwd, ".parsnip-data")
    lines = out.splitlines()
    assert len(lines) == BANNER_LINES, out
    assert lines[0] == f"parsnip 0.1.0 serving http://127.0.0.1:{port}/parse"
    assert lines[1].split() == ["appId:", "parsnip"]
    assert lines[2].split(":", 1)[1].strip() == f"kept in {data}/master-key"
    key = Path(data, "master-key").read_text().strip()
    assert key not in out and key not in err
    assert lines[3].split(":", 1)[1].strip().startswith(f"embedded PostgreSQL in {data}")
    assert lines[4].split() == ["liveQuery:", "on", "(classes:", "Message)"]
    assert lines[5].split() == ["processes:", "1"]
    assert lines[6].split(":", 1)[1].strip() == f"{cwd}/logs (level info)"
    assert lines[7].split(":", 1)[1].strip().startswith(f"http://127.0.0.1:{port}/metrics")
    # After the banner, only the shutdown's own line.
    assert [line for line in err.splitlines() if "shutting down" not in line] == []
    # initdb's narration is kept, in a file beside the data.
    assert "initdb" in Path(data, "pgserver.log").read_text()


def test_a_cluster_prints_one_banner_and_no_server_lines(fresh_dsn):
    cwd = tempfile.mkdtemp(prefix="parsnip-start-")
    out, err, _ = run_until_healthy(["--databaseURI", fresh_dsn, "--masterKey", "secret-key-x", "--cluster", "2"], cwd)
    assert len(out.splitlines()) == BANNER_LINES and out.count("parsnip 0.1.0 serving") == 1
    assert "processes:  2" in out and "secret-key-x" not in out + err
    assert "masterKey:  given (not shown)" in out
    assert "Running on" not in out + err
    # Each worker says it is shutting down; nothing else.
    assert [line for line in err.splitlines() if "shutting down" not in line] == []
