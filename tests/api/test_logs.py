"""Structured logs of a real `parsnip` process: with jsonLogs every line on stdout is one JSON
object; every record written while a request is served carries its id (the client's
X-Parse-Request-Id, else a generated one); the daily files in logsFolder hold the same records;
Parse's option and environment names."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from parsnip.api import logsetup
from parsnip.core import config as config_mod
from parsnip.core.config import Config
from tests.conftest import ROOT, _free_port

_KEYS = {"timestamp", "level", "logger", "message"}


class Process:
    """A `parsnip` process whose stdout and stderr the test reads separately."""

    def __init__(self, dsn: str, *flags: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/parse"
        self.out = Path(tempfile.mktemp(prefix="parsnip-out-"))
        self.err = Path(tempfile.mktemp(prefix="parsnip-err-"))
        self.master_key = "master-" + secrets.token_hex(8)
        cmd = [sys.executable, "-m", "parsnip.api.cli", "--appId", "app", "--masterKey", self.master_key, "--databaseURI", dsn,
               "--host", "127.0.0.1", "--port", str(self.port), *flags]
        environment = {k: v for k, v in os.environ.items() if k not in ("JSON_LOGS", "VERBOSE", "SILENT")}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env={**environment, **(env or {})})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.err.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("parsnip did not start")

    def stop(self) -> tuple[str, str]:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return self.out.read_text(), self.err.read_text()


def test_json_lines_on_stdout_with_the_request_id_of_each_request(fresh_dsn):
    folder = tempfile.mkdtemp(prefix="parsnip-logs-")
    # A mail server that refuses connections: the password reset's mail fails inside the request.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    adapter = {"module": "smtp", "options": {"host": "127.0.0.1", "port": closed_port, "fromAddress": "p@x.com"}}
    proc = Process(fresh_dsn, "--logsFolder", folder, "--emailAdapter", json.dumps(adapter),
                   "--publicServerURL", "http://127.0.0.1/parse", env={"JSON_LOGS": "1", "VERBOSE": "1"})
    app = {"X-Parse-Application-Id": "app"}
    try:
        with httpx.Client(base_url=proc.url, headers=app, timeout=30) as c:
            given = [f"client-{secrets.token_hex(4)}" for _ in range(3)]
            for rid in given:
                assert c.post("/classes/Thing", json={"n": 1}, headers={"X-Parse-Request-Id": rid}).status_code == 201
            for _ in range(3):
                assert c.get("/classes/Thing").status_code == 200
            user = c.post("/users", json={"username": "u1", "password": "pw", "email": "u1@x.com"})
            assert user.status_code == 201
            r = c.post("/requestPasswordReset", json={"email": "u1@x.com"}, headers={"X-Parse-Request-Id": "reset-1"})
            assert r.status_code == 200  # a failing mail server does not fail the request
    finally:
        out, err = proc.stop()
    lines = out.splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all(_KEYS <= set(r) for r in records)
    assert err.strip() == ""
    served = [r for r in records if r["logger"] == "parsnip.request"]
    assert [r["requestId"] for r in served if r["method"] == "POST" and r["route"] == "/classes/:className"] == given
    generated = [r["requestId"] for r in served if r["method"] == "GET" and r["route"] == "/classes/:className"]
    assert len(generated) == 3 and len(set(generated)) == 3 and not set(generated) & set(given)
    assert all(r["level"] == "debug" and r["status"] in (200, 201) and r["durationMs"] > 0 for r in served)
    # A record made deep inside a request (the mail failure, in core) carries that request's id.
    failure = [r for r in records if r["level"] == "error"]
    assert len(failure) == 1 and failure[0]["requestId"] == "reset-1"
    assert "could not send the password reset email" in failure[0]["message"] and "stack" in failure[0]
    # Records made outside any request have no id: the banner, the shutdown.
    banner = records[0]
    assert banner["message"].startswith("parsnip ") and "requestId" not in banner and banner["appId"] == "app"
    assert proc.master_key not in out
    # The files hold the same records: the info file all of them, the error file the errors.
    day = time.strftime("%Y-%m-%d", time.gmtime())
    in_file = [json.loads(line) for line in Path(folder, f"parse-server.info.{day}").read_text().splitlines()]
    assert [r["message"] for r in in_file] == [r["message"] for r in records]
    errors = [json.loads(line) for line in Path(folder, f"parse-server.err.{day}").read_text().splitlines()]
    assert [r["requestId"] for r in errors] == ["reset-1"]


def test_text_logs_show_the_request_id_and_default_to_warnings_and_errors_only(fresh_dsn):
    folder = tempfile.mkdtemp(prefix="parsnip-logs-")
    proc = Process(fresh_dsn, "--logsFolder", folder)
    try:
        with httpx.Client(base_url=proc.url, headers={"X-Parse-Application-Id": "app"}, timeout=30) as c:
            assert c.post("/classes/Thing", json={"n": 1}).status_code == 201
    finally:
        out, err = proc.stop()
    assert out.startswith("parsnip ")  # the banner, then nothing from the requests
    assert [line for line in err.splitlines() if "shutting down" not in line] == []


@pytest.mark.parametrize("env, expected", [
    ({}, {"logsFolder": "./logs", "jsonLogs": False, "verbose": False, "silent": False}),
    ({"JSON_LOGS": "1", "VERBOSE": "1", "SILENT": "true"}, {"jsonLogs": True, "verbose": True, "silent": True}),
    ({"PARSE_SERVER_LOGS_FOLDER": "null"}, {"logsFolder": None}),
    ({"PARSE_SERVER_LOGS_FOLDER": ""}, {"logsFolder": None}),
    ({"PARSE_SERVER_LOGS_FOLDER": "/var/log/parsnip"}, {"logsFolder": "/var/log/parsnip"}),
    ({"PARSE_SERVER_LOG_LEVEL": "warn", "PARSE_SERVER_MAX_LOG_FILES": "14d"}, {"logLevel": "warn", "maxLogFiles": "14d"}),
    ({"PARSE_SERVER_METRICS_IPS": "10.0.0.0/8,::1"}, {"metricsIps": ["10.0.0.0/8", "::1"]}),
])
def test_parse_option_and_environment_names(env, expected):
    cfg = config_mod.load(env=env)
    assert {name: getattr(cfg, name) for name in expected} == expected


@pytest.mark.parametrize("options, level", [
    ({}, logging.INFO),
    ({"logLevel": "warn"}, logging.WARNING),
    ({"logLevel": "error"}, logging.ERROR),
    ({"logLevel": "verbose"}, logging.DEBUG),
    ({"logLevel": "debug"}, logging.DEBUG),
    ({"logLevel": "error", "verbose": True}, logging.DEBUG),
    ({"logLevel": "nonsense"}, logging.INFO),
])
def test_log_levels_by_parse_names(options, level):
    assert logsetup.level_of(Config(**options)) == level
