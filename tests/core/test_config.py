"""Options with Parse Server's names: JSON file < environment < flags; `parsnip --help`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parsnip.core import config
from tests.conftest import ROOT


def test_precedence_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "parse.json"
    path.write_text(json.dumps({"appId": "fromFile", "masterKey": "fileKey", "port": 1400,
                                "mountPath": "/api", "allowClientClassCreation": False}))
    env = {"PARSE_SERVER_MASTER_KEY": "envKey", "PORT": "1500"}
    cfg = config.load(str(path), env=env, overrides={"port": "1600", "appId": None})
    assert cfg.appId == "fromFile"
    assert cfg.masterKey == "envKey"
    assert cfg.port == 1600
    assert cfg.mountPath == "/api"
    assert cfg.allowClientClassCreation is False
    assert cfg.serverURL == "http://localhost:1600/api"


@pytest.mark.parametrize("var, option, value, expected", [
    ("PARSE_SERVER_APPLICATION_ID", "appId", "A", "A"),
    ("PARSE_SERVER_DATABASE_URI", "databaseURI", "postgres://x/y", "postgres://x/y"),
    ("PARSE_SERVER_URL", "serverURL", "https://api.example.com/parse", "https://api.example.com/parse"),
    ("PARSE_SERVER_REST_API_KEY", "restAPIKey", "rk", "rk"),
    ("PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION", "allowClientClassCreation", "false", False),
    ("PARSE_SERVER_MAX_LIMIT", "maxLimit", "50", 50),
    ("PARSE_SERVER_ALLOW_HEADERS", "allowHeaders", "X-A, X-B", ["X-A", "X-B"]),
    ("PARSE_SERVER_CLUSTER", "cluster", "2", 2),
    ("PARSE_SERVER_FILES_ADAPTER", "filesAdapter", "@parse/s3-files-adapter", "@parse/s3-files-adapter"),
    ("PARSE_SERVER_FILES_ADAPTER", "filesAdapter", '{"directory": "/srv/files"}', {"directory": "/srv/files"}),
])
def test_environment_variables(var, option, value, expected):
    assert getattr(config.load(env={var: value}), option) == expected


def test_parse_multi_app_file_takes_the_first_app(tmp_path):
    path = tmp_path / "apps.json"
    path.write_text(json.dumps({"apps": [{"appId": "first"}, {"appId": "second"}]}))
    assert config.load(str(path), env={}).appId == "first"


@pytest.mark.parametrize("text, size", [("20mb", 20 * 1024**2), ("512kb", 512 * 1024), ("100", 100), ("1.5gb", int(1.5 * 1024**3))])
def test_sizes(text, size):
    assert config.parse_size(text) == size


def test_help_lists_parse_option_names():
    out = subprocess.run([sys.executable, "-m", "parsnip.api.cli", "--help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for flag in ("--appId", "--masterKey", "--databaseURI", "--port", "--mountPath", "--serverURL", "--cluster",
                 "PARSE_SERVER_MASTER_KEY"):
        assert flag in out
