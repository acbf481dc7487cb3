"""Runs the Parse JavaScript SDK compatibility tests: each tests/sdk/*.test.mjs file is one
pytest item, and a failure names its file and each failing test with its error.

The JS tests use the official `parse` npm package against the server given by the
environment; here that server is Parsnip, started once per session by the `parsnip_server`
fixture from tests/conftest.py (an object with `url`, `app_id`, `master_key`).

To validate the JS tests against another server (e.g. a real Parse Server),
set PARSE_SDK_TEST_URL (plus PARSE_SDK_TEST_APP_ID / PARSE_SDK_TEST_MASTER_KEY,
defaulting to APP / MASTER); the fixture is then not requested at all:

    PARSE_SDK_TEST_URL=http://127.0.0.1:1337/parse pytest tests/sdk

The Cloud Code tests need the server's cloud module: Parsnip's session server loads
tests/sdk/cloud/main.py; for Parse Server, run a private copy of the peer whose cloud/main.js is
the peer's own followed by tests/sdk/cloud/main.js (its twin), as benchmarks/README.md shows for
the benchmark's Cloud Code.

The LiveQuery tests connect to PARSE_LIVEQUERY_URL, which is the server URL with
http(s) replaced by ws(s) (LiveQuery shares the REST port and mount path, as Parse
Server's `startLiveQueryServer` does), unless PARSE_SDK_TEST_LIVEQUERY_URL says otherwise.

A file whose process does not exit after its tests fails (exit-guard.mjs names what was
left open); one that runs past FILE_TIMEOUT_S is killed and the tests still running named.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.sdk.node_runner import SDK_DIR, ensure_node_modules, failure_message, require_tools, run_file

# node's --test-timeout. Node 20 applies it to each file's process as a whole as well (the
# slowest file, LiveQuery, takes about 25 s), so it is no tighter than a file may need.
PER_TEST_TIMEOUT_MS = 120_000
FILE_TIMEOUT_S = 300  # pytest's own bound: past it node is killed, the tests still running named

SDK_FILES = sorted(SDK_DIR.glob("*.test.mjs"))
if not SDK_FILES:  # an empty parametrization would be a silent skip
    raise RuntimeError(f"no *.test.mjs files found in {SDK_DIR}")


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


@pytest.fixture(scope="session")
def sdk_node(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """node, with the SDK installed, and the environment that points the tests at the server."""
    node, npm = require_tools()
    ensure_node_modules(npm)
    env = dict(os.environ)
    # Never let a stray key from the caller's environment leak into the run.
    env.pop("PARSE_JS_KEY", None)
    env.pop("PARSE_LIVEQUERY_URL", None)
    env.update(_server_settings(request))
    return node, env


@pytest.mark.parametrize("test_file", SDK_FILES, ids=lambda path: path.name)
def test_parse_js_sdk(test_file: Path, sdk_node: tuple[str, dict[str, str]]) -> None:
    node, env = sdk_node
    run = run_file(node, test_file, env, PER_TEST_TIMEOUT_MS, FILE_TIMEOUT_S)
    message = failure_message(run, env["PARSE_SERVER_URL"])
    if message:
        pytest.fail(message, pytrace=False)
    print(run.output)  # the per-test report, visible with `pytest -s`
