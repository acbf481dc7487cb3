"""Parsnip mounted as an ASGI app inside another trio application, as the README shows."""

from __future__ import annotations

import socket

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.middleware.dispatcher import TrioDispatcherMiddleware
from hypercorn.trio import serve

from parsnip import Config, asgi_app


async def other_app(scope, receive, send):
    """The host application's own routes."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"host app"})


async def _healthy(client: httpx.AsyncClient) -> None:
    """Wait until the mounted Parsnip answers /health (its runtime has started)."""
    with trio.fail_after(20):
        while True:
            try:
                if (await client.get("/parse/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await trio.sleep(0.05)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_parsnip_mounted_beside_another_app(fresh_dsn):
    port = _port()
    parsnip = asgi_app(Config(appId="APP", masterKey="MASTER", databaseURI=fresh_dsn, mountPath="/parse",
                              port=port, host="127.0.0.1"))
    app = TrioDispatcherMiddleware({"/parse": parsnip, "/": other_app})
    hc = HypercornConfig()
    hc.bind = [f"127.0.0.1:{port}"]
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve(app, hc, shutdown_trigger=shutdown.wait))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"X-Parse-Application-Id": "APP"}) as client:
            await _healthy(client)
            created = await client.post("/parse/classes/Mounted", json={"n": 1})
            assert created.status_code == 201
            got = await client.get(f"/parse/classes/Mounted/{created.json()['objectId']}")
            assert got.json()["n"] == 1
            assert (await client.get("/elsewhere")).text == "host app"
            # Mounted, Parsnip's metrics are under its mount path (the host owns /metrics).
            scraped = await client.get("/parse/metrics")
            assert 'route="/classes/:className",status="201"' in scraped.text
        shutdown.set()


async def test_livequery_works_through_the_host_asgi_server(fresh_dsn):
    """Mounted, Parsnip has no socket of its own: LiveQuery runs over ASGI websocket messages."""
    import json

    from trio_websocket import open_websocket_url

    port = _port()
    parsnip = asgi_app(Config(appId="APP", masterKey="MASTER", databaseURI=fresh_dsn, mountPath="/parse",
                              port=port, host="127.0.0.1", startLiveQueryServer=True,
                              liveQuery={"classNames": ["Chat"]}))
    app = TrioDispatcherMiddleware({"/parse": parsnip, "/": other_app})
    hc = HypercornConfig()
    hc.bind = [f"127.0.0.1:{port}"]
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve(app, hc, shutdown_trigger=shutdown.wait))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"X-Parse-Application-Id": "APP"}) as client:
            await _healthy(client)
            async with open_websocket_url(f"ws://127.0.0.1:{port}/parse") as ws:
                await ws.send_message(json.dumps({"op": "connect", "applicationId": "APP"}))
                assert json.loads(await ws.get_message())["op"] == "connected"
                await ws.send_message(json.dumps({"op": "subscribe", "requestId": 1,
                                                  "query": {"className": "Chat", "where": {"room": "r"}}}))
                assert json.loads(await ws.get_message())["op"] == "subscribed"
                assert (await client.post("/parse/classes/Chat", json={"room": "r", "text": "hi"})).status_code == 201
                with trio.fail_after(5):
                    event = json.loads(await ws.get_message())
                assert (event["op"], event["object"]["text"]) == ("create", "hi")
        shutdown.set()
