"""What each bad LiveQuery message gets: the code, text and `reconnect` Parse Server 9.10 sends
(checked side by side with it), never a dropped connection or a silent nothing. Where Parsnip
answers and Parse does not, the comment says so."""

from __future__ import annotations

import json

import pytest
from trio_websocket import open_websocket_url

from tests.livequery.live_helpers import Client, Rest, connected, ws_url

_BEFORE_CONNECT = [
    # Parse Server logs malformed JSON and answers nothing; Parsnip says what is wrong.
    ("{bad", 1, "Message is not in JSON format"),
    ("[1]", 1, "Invalid type: array (expected object)"),
    ('{"op":"foo"}', 1, 'No enum match for: "foo"'),
    ('{"nop":1}', 1, "Missing required property: op"),
    ('{"op":"connect"}', 1, "Missing required property: applicationId"),
    ('{"op":"connect","applicationId":"x","sessionToken":5}', 1, "Invalid type: number (expected string)"),
    ('{"op":"connect","applicationId":"x","other":1}', 1, "Additional properties not allowed"),
    ('{"op":"subscribe","requestId":1,"query":{"className":"C","where":{}}}', 2,
     "Can not find this client, make sure you connect to server before subscribing"),
    ('{"op":"unsubscribe","requestId":1}', 2,
     "Can not find this client, make sure you connect to server before unsubscribing"),
    # Python's json reads these; JSON.parse (Parse) does not, and an answer carrying one is no JSON.
    ('{"op":"unsubscribe","requestId":NaN}', 1, "Message is not in JSON format"),
    ('{"op":"unsubscribe","requestId":-Infinity}', 1, "Message is not in JSON format"),
    # Too deep for the server to read: refused before anything else (issue 10).
    ("[" * 5000 + "]" * 5000, 1, "Message is nested too deeply"),
]

_AFTER_CONNECT = [
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C"}}, "Missing required property: where"),
    ({"op": "subscribe", "requestId": 1, "query": {"where": {}}}, "Missing required property: className"),
    ({"op": "subscribe", "query": {"className": "C", "where": {}}}, "Missing required property: requestId"),
    ({"op": "subscribe", "requestId": 1}, "Missing required property: query"),
    ({"op": "subscribe", "requestId": "a", "query": {"className": "C", "where": {}}}, "Invalid type: string (expected number)"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": []}}, "Invalid type: array (expected object)"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}, "extra": 1}}, "Additional properties not allowed"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}}, "extra": 1}, "Additional properties not allowed"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}, "keys": []}}, "Array is too short (0), minimum 1"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}, "keys": "a"}}, "Invalid type: string (expected array)"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}, "watch": ["a", "a"]}},
     "Array items are not unique (indices 0 and 1)"),
    ({"op": "subscribe", "requestId": 1, "query": {"className": "C", "where": {}}, "position": -1},
     "position must be a log position (an integer >= 0)"),
    ({"op": "unsubscribe", "requestId": 1, "query": {}}, "Additional properties not allowed"),
]


@pytest.mark.parametrize("text, code, message", _BEFORE_CONNECT)
async def test_bad_messages_before_connect(server, text, code, message):
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await ws.send_message(text)
        assert await c.recv() == {"op": "error", "error": message, "code": code, "reconnect": True, "requestId": None}
        # the connection is still usable
        await c.send(op="connect", applicationId=server.app_id)
        assert (await c.recv())["op"] == "connected"


@pytest.mark.parametrize("message, text", _AFTER_CONNECT)
async def test_bad_messages_after_connect(server, message, text):
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=server.app_id)
        await c.recv()
        await ws.send_message(json.dumps(message))
        assert await c.recv() == {"op": "error", "error": text, "code": 1, "reconnect": True, "requestId": None}


async def test_unsubscribing_an_unknown_request_id(server):
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=server.app_id)
        client_id = (await c.recv())["clientId"]
        await c.send(op="unsubscribe", requestId=99)
        assert await c.recv() == {
            "op": "error", "code": 2, "reconnect": True, "requestId": None,
            "error": f"Cannot find subscription with clientId {client_id} subscriptionId 99."
                     " Make sure you subscribe to live query server before unsubscribing."}


@pytest.mark.parametrize("connect", [
    {"applicationId": "not-this-app"},
])
async def test_a_wrong_application_id_is_refused(server, connect):
    """Parse Server accepts any applicationId here; Parsnip refuses one that is not its own."""
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await c.send(op="connect", **connect)
        assert await c.recv() == {"op": "error", "error": "Key in request is not valid", "code": 4,
                                  "reconnect": True, "requestId": None}


async def test_the_keys_projection_keeps_parse_default_fields_and_the_legacy_fields_name(server, cls):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, installationId="inst-1")
        sub = await c.subscribe(1, cls, {}, query={"keys": ["a"]})
        assert sub["installationId"] == "inst-1"
        await c.subscribe(2, cls, {}, query={"fields": ["b"]})  # the older SDKs' name
        await rest.create(cls, {"a": 1, "b": 2, "c": 3, "ACL": {"*": {"read": True}}})
        events = {m["requestId"]: m for m in [await c.recv(), await c.recv()]}
    for rid, kept in ((1, "a"), (2, "b")):
        obj = events[rid]["object"]
        assert set(obj) == {"className", "objectId", "createdAt", "updatedAt", "ACL", kept}
        assert events[rid]["installationId"] == "inst-1" and "clientId" in events[rid]
