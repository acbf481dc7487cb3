"""The official Parse Dashboard (npm `parse-dashboard` 9.x) against Parsnip, used as its users use
it: `drive.mjs` clicks through it in headless Chromium (the data browser with every field type,
rows, cells, columns, a file upload, classes and CLP; Config; running a job; a webhook; Logs,
Cloud Code, API Console, Settings), checks over REST that each action took effect, and records
every request the Dashboard makes. The test fails on a step that did not work and on any answer
Parse Server 9.10 would not give: `parse-server-9.10.json` is the same drive recorded against the
reference server with the twin Cloud Code (see recording.py for how to record it again)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PARSNIP_SERVER_ARGS, _free_port, start_server, stop_server
from tests.dashboard.recording import compare, summarize
from tests.sdk.node_runner import ensure_node_modules, require_tools

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "parse-server-9.10.json"
DRIVE_TIMEOUT_S = 600  # the drive takes about two minutes


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    pytest.skip("no Chromium to drive the Parse Dashboard with: install Debian's `chromium` "
                "(.ci/run does when it can) or set CHROMIUM to a Chrome or Chromium binary")


@pytest.fixture
def dashboard(fresh_dsn: str):
    """Parsnip on a database of its own, the Parse Dashboard in front of it, and the browser."""
    chromium = _chromium()
    _, npm = require_tools()
    ensure_node_modules(npm, HERE)
    server = start_server(fresh_dsn, *PARSNIP_SERVER_ARGS, app_id="APP", master_key="MASTER")
    port = _free_port()
    log = open(tempfile.mktemp(prefix="parse-dashboard-", suffix=".log"), "w")
    proc = subprocess.Popen(
        ["node", str(HERE / "node_modules" / "parse-dashboard" / "bin" / "parse-dashboard"), "--dev",
         "--host", "127.0.0.1", "--port", str(port), "--appId", "APP", "--masterKey", "MASTER",
         "--serverURL", server.url, "--appName", "parsnip"],
        cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"parse-dashboard exited with {proc.returncode}:\n{Path(log.name).read_text()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"parse-dashboard did not answer in 60 s:\n{Path(log.name).read_text()}")
            time.sleep(0.2)
        yield url, server, chromium
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        stop_server(server)


def test_the_dashboard_works_as_against_parse_server(dashboard) -> None:
    url, server, chromium = dashboard
    out = Path(tempfile.mktemp(prefix="dashboard-", suffix=".json"))
    result = subprocess.run(
        ["node", str(HERE / "drive.mjs"), url, "parsnip", server.url, str(out)],
        cwd=HERE, env={**os.environ, "CHROMIUM": chromium, "APP_ID": "APP", "MASTER_KEY": "MASTER"},
        capture_output=True, text=True, timeout=DRIVE_TIMEOUT_S)
    assert result.returncode == 0, f"drive.mjs failed:\n{result.stdout}\n{result.stderr}"
    recording = json.loads(out.read_text())
    assert len(recording["steps"]) >= 30, recording["steps"]
    problems = compare(summarize(recording), json.loads(REFERENCE.read_text()))
    assert not problems, (f"the Dashboard met {len(problems)} difference(s) from Parse Server "
                          f"(recording: {out}; server log: {server.output}):\n" + "\n".join(problems))
