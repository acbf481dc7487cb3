"""Runs the Parse JavaScript SDK compatibility tests (tests/sdk/*.test.mjs).

The JS tests use the official `parse` npm package against the server given by
the environment; here that server is Parsnip, started by the `parsnip_server`
fixture from tests/conftest.py (an object with `url`, `app_id`, `master_key`).

To validate the JS tests against another server (e.g. a real Parse Server),
set PARSE_SDK_TEST_URL (plus PARSE_SDK_TEST_APP_ID / PARSE_SDK_TEST_MASTER_KEY,
defaulting to APP / MASTER); the fixture is then not requested at all:

    PARSE_SDK_TEST_URL=http://127.0.0.1:1337/parse pytest tests/sdk

The LiveQuery tests connect to PARSE_LIVEQUERY_URL, which is the server URL with
http(s) replaced by ws(s) (LiveQuery shares the REST port and mount path, as Parse
Server's `startLiveQueryServer` does), unless PARSE_SDK_TEST_LIVEQUERY_URL says otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parent
LOCKFILE = SDK_DIR / "package-lock.json"
# npm ci / npm install write this file last; it marks a finished install.
INSTALLED_MARKER = SDK_DIR / "node_modules" / ".package-lock.json"

NPM_TIMEOUT_S = 600
NODE_TIMEOUT_S = 900
PER_TEST_TIMEOUT_MS = 60_000


def _require_tools() -> tuple[str, str]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm)) if path is None]
    if missing:
        message = (
            f"{' and '.join(missing)} not found on PATH: the Parse JS SDK "
            "compatibility tests need Node.js (>= 20.19) and npm"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
        pytest.skip(message)
    return node, npm  # type: ignore[return-value]


def _install_is_stale() -> bool:
    if not INSTALLED_MARKER.exists():
        return True
    return INSTALLED_MARKER.stat().st_mtime < LOCKFILE.stat().st_mtime


def _ensure_node_modules(npm: str) -> None:
    if not _install_is_stale():
        return
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`npm ci` in {SDK_DIR} failed with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


def _livequery_url(server_url: str) -> str:
    """The websocket URL of the LiveQuery server that shares `server_url`'s port and path."""
    override = os.environ.get("PARSE_SDK_TEST_LIVEQUERY_URL")
    if override:
        return override
    if server_url.startswith("https://"):
        return "wss://" + server_url[len("https://"):]
    if server_url.startswith("http://"):
        return "ws://" + server_url[len("http://"):]
    raise ValueError(f"cannot derive a LiveQuery URL from {server_url!r}")


def _server_settings(request: pytest.FixtureRequest) -> dict[str, str]:
    override_url = os.environ.get("PARSE_SDK_TEST_URL")
    if override_url:
        return {
            "PARSE_SERVER_URL": override_url,
            "PARSE_LIVEQUERY_URL": _livequery_url(override_url),
            "PARSE_APP_ID": os.environ.get("PARSE_SDK_TEST_APP_ID", "APP"),
            "PARSE_MASTER_KEY": os.environ.get("PARSE_SDK_TEST_MASTER_KEY", "MASTER"),
        }
    server = request.getfixturevalue("parsnip_server")
    settings = {
        "PARSE_SERVER_URL": server.url,
        "PARSE_LIVEQUERY_URL": _livequery_url(server.url),
        "PARSE_APP_ID": server.app_id,
        "PARSE_MASTER_KEY": server.master_key,
    }
    js_key = getattr(server, "js_key", None)
    if js_key:
        settings["PARSE_JS_KEY"] = js_key
    return settings


def test_parse_js_sdk(request: pytest.FixtureRequest) -> None:
    node, npm = _require_tools()
    _ensure_node_modules(npm)

    test_files = sorted(str(p) for p in SDK_DIR.glob("*.test.mjs"))
    assert test_files, f"no *.test.mjs files found in {SDK_DIR}"

    env = dict(os.environ)
    # Never let a stray key from the caller's environment leak into the run.
    env.pop("PARSE_JS_KEY", None)
    env.pop("PARSE_LIVEQUERY_URL", None)
    env.update(_server_settings(request))

    result = subprocess.run(
        [
            node,
            "--test",
            "--test-reporter=spec",
            f"--test-timeout={PER_TEST_TIMEOUT_MS}",
            # Exit when the tests are done even if a connection is still open: the LiveQuery
            # file leaves two websockets of the SDK's open against Parsnip (not yet explained;
            # see ARCHITECTURE.md, known gaps); every assertion still runs and counts.
            "--test-force-exit",
            *test_files,
        ],
        cwd=SDK_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=NODE_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(
            f"Parse JS SDK tests failed against {env['PARSE_SERVER_URL']} "
            f"(node exit code {result.returncode}):\n{result.stdout}",
            pytrace=False,
        )
    print(result.stdout)  # the per-test report, visible with `pytest -s`
