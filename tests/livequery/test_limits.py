"""Per-connection limits: `liveQueryServerOptions.maxSubscriptionsPerConnection` (the strict
server allows MAX_SUBSCRIPTIONS) answers a Parse error past it and keeps the connection."""

from __future__ import annotations

import secrets

from trio_websocket import open_websocket_url

from tests.livequery.conftest import MAX_SUBSCRIPTIONS
from tests.livequery.live_helpers import Rest, connected, ws_url


async def test_subscriptions_past_the_limit_are_refused_and_the_rest_go_on(strict_server):
    cls = "Limited" + secrets.token_hex(3)
    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = await connected(ws, strict_server)
        for rid in range(1, MAX_SUBSCRIPTIONS + 1):
            assert (await c.subscribe(rid, cls, {"n": rid}))["op"] == "subscribed"
        refused = await c.subscribe(99, cls, {"n": 99})
        assert refused == {"op": "error", "code": 155, "reconnect": False, "requestId": 99,
                           "error": f"Too many subscriptions on this connection (at most {MAX_SUBSCRIPTIONS}):"
                                    " unsubscribe first, or open another connection"}
        # Replacing one (same requestId, or update) is not one more.
        assert (await c.subscribe(1, cls, {"n": 11}))["op"] == "subscribed"
        await c.send(op="update", requestId=2, query={"className": cls, "where": {"n": 12}})
        assert (await c.recv())["op"] == "subscribed"
        await c.send(op="unsubscribe", requestId=3)
        assert (await c.recv())["op"] == "unsubscribed"
        assert (await c.subscribe(99, cls, {"n": 99}))["op"] == "subscribed"
        # The refused subscription never existed; the others receive as usual.
        await Rest(strict_server).create(cls, {"n": 99})
        event = await c.recv()
        assert (event["op"], event["requestId"]) == ("create", 99)
        await c.nothing(0.3)


async def test_the_limit_is_per_connection(strict_server):
    cls = "Limited" + secrets.token_hex(3)
    async with open_websocket_url(ws_url(strict_server)) as ws1, open_websocket_url(ws_url(strict_server)) as ws2:
        first, second = await connected(ws1, strict_server), await connected(ws2, strict_server)
        for rid in range(1, MAX_SUBSCRIPTIONS + 1):
            assert (await first.subscribe(rid, cls, {}))["op"] == "subscribed"
        assert (await second.subscribe(1, cls, {}))["op"] == "subscribed"
