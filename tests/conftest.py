"""Shared fixtures: a real PostgreSQL per test (a fresh database), and a real Parsnip server.

PostgreSQL is the machine's service at 127.0.0.1:5432 (database `test`, trust auth) or
PARSNIP_TEST_DATABASE_URI; where neither answers, the embedded `pgserver` one. Each test that
asks for `fresh_dsn` gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from parsnip.api.runtime import open_runtime
from parsnip.core.config import Config

ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_DSN = "postgres://postgres@127.0.0.1:5432/test"


def _reachable(dsn: str) -> bool:
    parts = urlsplit(dsn)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def admin_dsn() -> str:
    """A PostgreSQL where the tests may create and drop databases."""
    dsn = os.environ.get("PARSNIP_TEST_DATABASE_URI", _DEFAULT_DSN)
    if _reachable(dsn):
        return dsn
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="parsnip-test-pg-"), cleanup_mode="stop")
    return server.get_uri()


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def _admin_sql(admin: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    import asyncio

    asyncio.run(run())


@pytest.fixture
def fresh_dsn(admin_dsn: str):
    """A new, empty database for one test."""
    name = "parsnip_t_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    yield _with_database(admin_dsn, name)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def runtime(fresh_dsn: str):
    """A started Runtime (gateway, writer, bus) on a fresh database, in this test's trio run."""
    config = Config(appId="test", masterKey="test-master")
    async with open_runtime(config, fresh_dsn) as rt:
        yield rt


@dataclass
class ServerInfo:
    url: str
    app_id: str
    master_key: str
    dsn: str
    process: subprocess.Popen
    output: str = ""  # the file that gets the process's stdout and stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(dsn: str, *extra: str, app_id: str = "test-app", master_key: str = "test-master") -> ServerInfo:
    """Start `parsnip` as a real process on a free port and wait until /health answers."""
    port = _free_port()
    if "--filesAdapter" not in extra:  # uploads go to a temporary folder, never `./files` in the checkout
        extra = (*extra, "--filesAdapter", json.dumps({"directory": tempfile.mkdtemp(prefix="parsnip-files-")}))
    cmd = [sys.executable, "-m", "parsnip.api.cli", "--appId", app_id, "--masterKey", master_key,
           "--databaseURI", dsn, "--host", "127.0.0.1", "--port", str(port), "--logLevel", "warning",
           "--logsFolder", tempfile.mkdtemp(prefix="parsnip-logs-"), *extra]
    log = open(tempfile.mktemp(prefix="parsnip-server-", suffix=".log"), "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/parse"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"parsnip exited with {proc.returncode}; see {log.name}:\n" + Path(log.name).read_text())
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return ServerInfo(url, app_id, master_key, dsn, proc, log.name)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("parsnip did not become healthy in 30 s")


def stop_server(info: ServerInfo) -> int:
    info.process.terminate()
    try:
        return info.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        info.process.kill()
        return info.process.wait()


# The session server also serves LiveQuery for every class on its own port, as the reference
# Parse Server does, so the JS SDK's LiveQuery tests (tests/sdk/livequery.test.mjs) use it too.
# Its Cloud Code (tests/sdk/cloud/main.py) mirrors the reference server's cloud/main.js.
# Its files go to a temporary folder, not `./files` beside the repository.
PARSNIP_SERVER_ARGS = ("--startLiveQueryServer", "--liveQuery", '{"classNames": [".*"]}',
                       "--cloud", str(ROOT / "tests" / "sdk" / "cloud" / "main.py"),
                       "--filesAdapter", json.dumps({"directory": tempfile.mkdtemp(prefix="parsnip-files-")}))


@pytest.fixture(scope="session")
def parsnip_server(admin_dsn: str):
    """One real Parsnip server process for the session, on a database of its own."""
    name = "parsnip_s_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), *PARSNIP_SERVER_ARGS)
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def api(parsnip_server: ServerInfo):
    """An httpx client for the session server, with the application id set."""
    with httpx.Client(base_url=parsnip_server.url, headers={"X-Parse-Application-Id": parsnip_server.app_id},
                      timeout=30) as client:
        yield client


@pytest.fixture
def class_name() -> str:
    """A class name no other test uses."""
    return "T" + secrets.token_hex(5)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 server for the files adapter's tests: moto's standalone server, in its own
    process on a free port, for the session."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
