"""`--cluster N` with real processes: a worker that dies is replaced (at a bounded rate when it
dies at start), workers end when the master ends however it ends, and SIGTERM to the master
stops everything gracefully, losing no acknowledged write. Linux: processes are found in /proc."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from parsnip.api.connections import DELIVERY, GRACE
from tests.api.fault_helpers import WriteLoad, assert_log_holds, log_state, raw_connection, wait_closed
from tests.conftest import ROOT, _free_port, start_server

SLACK = 3.0


def _state(pid: int) -> str | None:
    """The process's state letter, None once it is gone (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    return None if state in ("Z", "X") else state


def _workers(master: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == master and fields[0] not in ("Z", "X"):
                found.add(int(entry))
    return found


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _serving(server) -> bool:
    try:
        r = httpx.post(server.url + "/classes/Alive", json={"n": 1},
                       headers={"X-Parse-Application-Id": server.app_id}, timeout=5)
        return r.status_code == 201
    except httpx.HTTPError:
        return False


def _port_free(url: str) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no owner
        try:
            s.bind(("127.0.0.1", urlsplit(url).port))
        except OSError:
            return False
        return True


def test_killed_workers_are_replaced_and_serve(fresh_dsn):
    server = start_server(fresh_dsn, "--cluster", "2")
    master = server.process.pid
    try:
        old = _wait_for(lambda: len(_workers(master)) == 2 and _workers(master), 15, "two workers")
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        new = _wait_for(lambda: (w := _workers(master)) and len(w) == 2 and not (w & old) and w, 15,
                        "two new workers")
        # Every old worker is dead, so whatever answers now is a new one.
        _wait_for(lambda: _serving(server), 15, "a write served by the new workers")
        assert server.process.poll() is None
        assert len(new) == 2
    finally:
        server.process.terminate()
        server.process.wait(30)


def test_workers_end_and_free_the_port_when_the_master_is_killed(fresh_dsn):
    server = start_server(fresh_dsn, "--cluster", "2")
    master = server.process.pid
    workers = _wait_for(lambda: len(_workers(master)) == 2 and _workers(master), 15, "two workers")
    idle = raw_connection(server.url)  # a client that does nothing holds no worker up
    os.kill(master, signal.SIGKILL)
    server.process.wait()
    _wait_for(lambda: all(_state(pid) is None for pid in workers), GRACE + SLACK, "the workers exit")
    _wait_for(lambda: _port_free(server.url), 2, "the port is free")
    assert wait_closed(idle, 1)


def test_sigterm_to_the_master_stops_the_workers_gracefully(fresh_dsn):
    server = start_server(fresh_dsn, "--cluster", "2")
    master = server.process.pid
    workers = _wait_for(lambda: len(_workers(master)) == 2 and _workers(master), 15, "two workers")
    idle = raw_connection(server.url)
    load = WriteLoad(server.url, server.app_id, "Drain", threads=6).start()
    load.wait_acked(1)
    time.sleep(0.5)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=60)
    elapsed = time.monotonic() - started
    out = load.stop()
    assert code == 0
    assert elapsed < GRACE + DELIVERY + SLACK, f"the cluster took {elapsed:.1f} s to stop"
    assert all(_state(pid) is None for pid in workers)
    assert _port_free(server.url)
    assert wait_closed(idle, 1)
    assert out.hung == 0 and out.acked
    assert_log_holds(log_state(fresh_dsn, "Drain"), out)


def test_a_worker_that_dies_at_start_is_replaced_at_a_bounded_rate():
    """Nothing listens at the database's address: each worker exits at start (its exit code is
    not the point). The master keeps
    replacing them, with a pause that doubles (0.5 s, 1 s, 2 s, ...) instead of spinning."""
    dead_db = f"postgres://postgres@127.0.0.1:{_free_port()}/nothing"
    log = Path(tempfile.mktemp(prefix="parsnip-cluster-", suffix=".log"))
    with open(log, "w") as out:
        master = subprocess.Popen([sys.executable, "-m", "parsnip.api.cli", "--appId", "a", "--masterKey", "m",
                                   "--databaseURI", dead_db, "--host", "127.0.0.1", "--port", str(_free_port()),
                                   "--cluster", "2", "--logLevel", "warning"],
                                  cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(6)
        exits = re.findall(r"worker \d+ exited \(code \d+\) after [\d.]+ s; starting another in ([\d.]+) s",
                           log.read_text())
        # 0.5 + 1 + 2 s of pauses fit in 6 s, with each worker's own start: three or four
        # exits per worker. Replaced at once, a worker that fails in 0.2 s would exit 30 times.
        assert 2 <= len(exits) <= 2 * 5, log.read_text()[-3000:]
        assert "0.5" in exits and "2.0" in exits
        assert master.poll() is None
    finally:
        master.send_signal(signal.SIGTERM)
        assert master.wait(timeout=10) == 0
