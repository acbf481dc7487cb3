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


WEBSOCKET_TIMEOUT = 2.0  # seconds (websocketTimeout 2000 ms) for the hardened server
MAX_SUBSCRIPTIONS = 5


@pytest.fixture(scope="package")
def strict_server(admin_dsn: str):
    """A `parsnip` process for the hostile-client tests: every class published, a short
    websocketTimeout, few subscriptions per connection."""
    name = "parsnip_lqh_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    options = {"websocketTimeout": int(WEBSOCKET_TIMEOUT * 1000), "maxSubscriptionsPerConnection": MAX_SUBSCRIPTIONS}
    info = start_server(_with_database(admin_dsn, name), "--startLiveQueryServer",
                        "--liveQuery", json.dumps({"classNames": [".*"]}),
                        "--liveQueryServerOptions", json.dumps(options))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_log(info) -> str:
    """What the server process has logged so far (its stdout and stderr go to one file)."""
    import os

    with open(os.readlink(f"/proc/{info.process.pid}/fd/1")) as f:
        return f.read()
