"""No LiveQuery client can take the node down (issue 10): whatever one message or one
subscription raises becomes that client's error message and a log line; the connection, the
dispatcher and every other client go on. A real `parsnip` process and real websockets.
"""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.livequery.conftest import server_log
from tests.livequery.live_helpers import Client, Rest, connected, ws_url


def _nested_or(depth: int) -> str:
    """The where as JSON text (json.dumps itself would not go that deep)."""
    return '{"$or":[' * depth + '{"a":1}' + "]}" * depth


def _subscribe(where: dict | str, request_id: int = 7) -> str:
    where_text = where if isinstance(where, str) else json.dumps(where)
    return ('{"op": "subscribe", "requestId": %d, "query": {"className": "Hostile", "where": %s}}'
            % (request_id, where_text))


# Each of these ended the process (exit 1) for every client of the node.
_FATAL_FRAMES = {
    "json nested 2000 deep": "[" * 2000 + "]" * 2000,
    "a __type that is a list": _subscribe({"a": [{"__type": []}]}),
    "a __type that is an object inside $in": _subscribe({"a": {"$in": [{"__type": {}}]}}),
    "$or nested 300 deep": _subscribe(_nested_or(300)),
    "$or nested 900 deep": _subscribe(_nested_or(900)),
    "a relative time past the calendar": _subscribe({"d": {"$lt": {"$relativeTime": "in 99999999999999999 years"}}}),
}
# Lone surrogates (JSON text may escape one): in keys and tokens they failed with encoding errors.
_SURROGATES = [
    ('{"op": "connect", "applicationId": "\\ud800"}', 4),
    ('{"op": "subscribe", "requestId": 3, "sessionToken": "\\udfff", "query": {"className": "Hostile", "where": {}}}', 209),
]


def assert_well_formed_error(message: dict, *request_ids) -> None:
    """Parse's error shape, with a code, and no internals (requestId one of `request_ids`,
    or null when none is given)."""
    assert message["op"] == "error", message
    assert set(message) == {"op", "error", "code", "reconnect", "requestId"}, message
    assert isinstance(message["code"], int) and message["code"] > 0
    assert isinstance(message["error"], str) and message["error"]
    assert "Traceback" not in message["error"] and 'File "' not in message["error"]
    assert isinstance(message["reconnect"], bool)
    assert message["requestId"] in (request_ids or (None,))


async def assert_node_serves(server, ws_client: Client | None = None) -> None:
    """The process is alive, REST answers, and a LiveQuery client can still subscribe."""
    assert server.process.poll() is None, "the server process ended"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(server.url + "/health")).status_code == 200
    if ws_client is not None:
        rid = secrets.randbelow(10**6) + 1000
        assert (await ws_client.subscribe(rid, "Hostile", {"ok": True}))["op"] == "subscribed"


@pytest.mark.parametrize("frame", list(_FATAL_FRAMES.values()), ids=list(_FATAL_FRAMES))
@pytest.mark.parametrize("after_connect", [True, False], ids=["connected", "anonymous"])
async def test_a_message_that_ended_the_process_gets_an_error_and_the_connection_goes_on(
        strict_server, frame, after_connect):
    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = Client(ws)
        if after_connect:
            await c.send(op="connect", applicationId=strict_server.app_id)
            assert (await c.recv())["op"] == "connected"
        await ws.send_message(frame)
        reply = await c.recv()
        subscribing = after_connect and frame.startswith('{"op": "subscribe"')
        # a message too deep to read as JSON has no requestId the server could know
        assert_well_formed_error(reply, *((7, None) if subscribing else ()))
        if not after_connect:
            await c.send(op="connect", applicationId=strict_server.app_id)
            assert (await c.recv())["op"] == "connected"
        await assert_node_serves(strict_server, c)  # the same connection still answers


@pytest.mark.parametrize("frame, code", _SURROGATES, ids=["applicationId", "sessionToken"])
async def test_lone_surrogates_in_keys_and_tokens_are_refused_as_unknown(strict_server, frame, code):
    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = await connected(ws, strict_server)
        await ws.send_message(frame)
        assert (await c.recv())["code"] == code
        await assert_node_serves(strict_server, c)


async def test_an_unexpected_failure_is_logged_once_with_the_client_and_request_id(strict_server):
    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=strict_server.app_id)
        client_id = (await c.recv())["clientId"]
        await ws.send_message(_subscribe({"a": [{"__type": []}]}, request_id=4242))
        reply = await c.recv()
    assert_well_formed_error(reply, 4242)
    if reply["code"] == 1:  # not (yet) refused as bad input: the connection's boundary caught it
        lines = [line for line in server_log(strict_server).splitlines() if "requestId 4242 failed" in line]
        assert len(lines) == 1 and client_id in lines[0]


async def test_a_subscription_whose_match_runs_out_of_time_ends_alone(strict_server):
    """A pattern only a backtracking engine takes (a backreference), catastrophic on this
    text: its subscription ends with 102, its connection and every other subscriber go on."""
    rest = Rest(strict_server)
    cls = "Hostile" + secrets.token_hex(3)
    async with open_websocket_url(ws_url(strict_server)) as ws_a, open_websocket_url(ws_url(strict_server)) as ws_b:
        a = await connected(ws_a, strict_server)
        b = await connected(ws_b, strict_server)
        assert (await a.subscribe(1, cls, {"name": {"$regex": r"^(a|aa)+\1$"}}))["op"] == "subscribed"
        assert (await a.subscribe(2, cls, {"n": 1}))["op"] == "subscribed"
        assert (await b.subscribe(1, cls, {}))["op"] == "subscribed"
        started = trio.current_time()
        await rest.create(cls, {"name": "a" * 40 + "!", "n": 1})
        assert trio.current_time() - started < 2
        got_a = [await a.recv(), await a.recv()]
        error = next(m for m in got_a if m["op"] == "error")
        assert_well_formed_error(error, 1)
        assert error["code"] == 102 and "took more than" in error["error"]
        assert next(m for m in got_a if m["op"] != "error")["requestId"] == 2  # its other subscription
        assert (await b.recv())["op"] == "create"
        # The subscription is gone, the rest goes on: a later write reaches both clients once.
        await rest.create(cls, {"name": "b", "n": 1})
        assert [(m["op"], m["requestId"]) for m in [await a.recv()]] == [("create", 2)]
        assert (await b.recv())["op"] == "create"
        await a.nothing(0.3)
        await assert_node_serves(strict_server, a)
    assert "took more than" in server_log(strict_server)


async def test_a_catastrophic_pattern_for_backtracking_costs_nothing(strict_server):
    """`^(a+)+$` and one write of 28 a's froze the node 10 s: RE2 answers in linear time."""
    rest = Rest(strict_server)
    cls = "Hostile" + secrets.token_hex(3)
    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = await connected(ws, strict_server)
        assert (await c.subscribe(1, cls, {"name": {"$regex": "^(a+)+$"}}))["op"] == "subscribed"
        started = trio.current_time()
        await rest.create(cls, {"name": "a" * 5000 + "!"})
        await rest.create(cls, {"name": "a" * 28})
        event = await c.recv()
        assert trio.current_time() - started < 2
        assert event["op"] == "create" and event["object"]["name"] == "a" * 28
        await c.nothing(0.3)
