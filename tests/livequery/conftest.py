"""Fixtures for the LiveQuery tests: one `parsnip` process per module with LiveQuery on."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.conftest import _admin_sql, _with_database, start_server, stop_server

MAX_QUEUE = 64


@pytest.fixture(scope="module")
def server(admin_dsn: str):
    name = "parsnip_lq_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--startLiveQueryServer",
                        "--liveQuery", json.dumps({"classNames": ["Live.*", "_User"]}),
                        "--liveQueryServerOptions", json.dumps({"maxQueue": MAX_QUEUE}))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cls() -> str:
    return "Live" + secrets.token_hex(4)
