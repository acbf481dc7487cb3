"""The change feed's stream served in this process (hypercorn on trio, the app's own ASGI
wrappers), so its tasks can be counted: a client that goes away, idle or mid-backlog, leaves no
task behind and no error in the logs; an idle stream carries keep-alive comments."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from parsnip import Config, asgi_app
from parsnip.api.routes import changes as changes_route
from tests.api.test_asgi_mount import _healthy, _port

HEADERS = {"X-Parse-Application-Id": "APP", "X-Parse-Master-Key": "MASTER"}


def _tasks() -> int:
    count = 0

    def walk(task) -> None:
        nonlocal count
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                count += 1
                walk(child)

    walk(trio.lowlevel.current_root_task())
    return count


async def _settled(at_most: int) -> int:
    """The task count once it is back to `at_most` (or what it is after 5 s)."""
    with trio.move_on_after(5):
        while _tasks() > at_most:
            await trio.sleep(0.05)
    return _tasks()


@pytest.fixture
def keep_alive(monkeypatch):
    monkeypatch.setattr(changes_route, "KEEP_ALIVE", 0.2)


async def test_a_client_leaving_a_stream_leaves_no_task_and_no_error(fresh_dsn, keep_alive, caplog):
    caplog.set_level(logging.WARNING)
    port = _port()
    app = asgi_app(Config(appId="APP", masterKey="MASTER", databaseURI=fresh_dsn, port=port, host="127.0.0.1"))
    hc = HypercornConfig()
    hc.bind = [f"127.0.0.1:{port}"]
    base = f"http://127.0.0.1:{port}/parse"
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve(app, hc, shutdown_trigger=shutdown.wait))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=HEADERS) as host:
            await _healthy(host)
        async with httpx.AsyncClient(base_url=base, headers=HEADERS) as setup:
            r = await setup.post("/batch", json={"requests": [
                {"method": "POST", "path": "/parse/classes/Big", "body": {"text": "x" * 2000, "n": i}}
                for i in range(300)]})
            assert r.status_code == 200
        await trio.sleep(0.5)  # the setup clients' connections end
        baseline = _tasks()

        # Idle: the backlog sent, the stream waits on the bus and says it is alive.
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=10) as c:
            async with c.stream("GET", "/changes", headers={"Accept": "text/event-stream"},
                                params={"after": "301"}) as r:
                lines = r.aiter_lines()
                with trio.fail_after(5):
                    assert await lines.__anext__() == ": keep-alive"
        assert await _settled(baseline) == baseline

        # Mid-backlog: about 600 KB to send, the client reads one event and goes.
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=10) as c:
            async with c.stream("GET", "/changes", headers={"Accept": "text/event-stream"}) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        break
        assert await _settled(baseline) == baseline

        # The feed still serves, and a write after all this reaches a new stream.
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=10) as c:
            async with c.stream("GET", "/changes", headers={"Accept": "text/event-stream", "Last-Event-ID": "301"}) as r:
                await c.post("/classes/Big", json={"n": 300})
                async for line in r.aiter_lines():
                    if line.startswith("id: "):
                        assert line == "id: 302"
                        break
        shutdown.set()
    problems = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert problems == [], [rec.getMessage() for rec in problems]
