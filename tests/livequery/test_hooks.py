"""The seam where user code runs for LiveQuery clients (livequery/hooks.py): a hook refuses a
connect or a subscription with Parse's error, narrows a subscription, changes or withholds an
event; with no hook overridden the server calls none."""

from __future__ import annotations

import json
import struct

import pytest
import trio
import trio.testing

from parsnip.api.runtime import open_runtime
from parsnip.core.config import Config
from parsnip.core.commands import Create
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.livequery.hooks import LiveQueryHooks
from parsnip.livequery.server import LiveQueryServer
from parsnip.livequery.websocket import RawTransport
from tests.livequery.live_helpers import client_frame


class _Client:
    """A websocket client on an in-memory stream (the server's transport is the real one)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._buf = b""

    async def send(self, **message) -> None:
        await self._stream.send_all(client_frame(json.dumps(message).encode()))

    async def recv(self, timeout: float = 5) -> dict:
        with trio.fail_after(timeout):
            while True:
                message = self._take()
                if message is not None:
                    return message
                self._buf += await self._stream.receive_some(65536)

    def _take(self) -> dict | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        n, pos = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, pos = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
        if len(buf) < pos + n:
            return None
        payload, self._buf = buf[pos:pos + n], buf[pos + n:]
        assert buf[0] == 0x81, buf[:1]  # a final text frame
        return json.loads(payload)

    async def nothing(self, wait: float = 0.3) -> None:
        with trio.move_on_after(wait):
            message = await self.recv(wait + 1)
            raise AssertionError(f"unexpected message: {message}")


@pytest.fixture
async def live(fresh_dsn):
    """A runtime with LiveQuery publishing class Chat, and a way to open a client on a server
    with the given hooks."""
    config = Config(appId="APP", masterKey="MASTER", startLiveQueryServer=True, liveQuery={"classNames": ["Chat"]})
    async with open_runtime(config, fresh_dsn) as rt, trio.open_nursery() as nursery:
        async def client(hooks: LiveQueryHooks) -> _Client:
            lq = LiveQueryServer(rt, hooks)
            await nursery.start(lq.run)
            ours, theirs = trio.testing.memory_stream_pair()
            nursery.start_soon(lq.serve, RawTransport(theirs), "127.0.0.1")
            return _Client(ours)

        async def create(**fields) -> None:
            await rt.write([Create("Chat", {k: Op("Set", v) for k, v in fields.items()})], Context(master=True))

        yield client, create
        nursery.cancel_scope.cancel()


class _RefuseConnect(LiveQueryHooks):
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.seen = []

    async def before_connect(self, request) -> None:
        self.seen.append(request)
        raise self.error


async def test_a_before_connect_hook_refuses_the_connect_with_its_parse_error(live):
    client, _ = live
    hooks = _RefuseConnect(ParseError(ParseError.VALIDATION_ERROR, "you are not authorized"))
    c = await client(hooks)
    await c.send(op="connect", applicationId="APP", installationId="inst-1")
    assert await c.recv() == {"op": "error", "code": 142, "error": "you are not authorized", "reconnect": False,
                              "requestId": None}
    assert hooks.seen[0].installation_id == "inst-1" and not hooks.seen[0].use_master_key
    # The client is not connected: a subscribe is refused as Parse refuses one before a connect.
    await c.send(op="subscribe", requestId=1, query={"className": "Chat", "where": {}})
    assert (await c.recv())["code"] == 2


async def test_a_hook_that_fails_refuses_with_script_failed(live):
    client, _ = live
    c = await client(_RefuseConnect(RuntimeError("You shall not pass!")))
    await c.send(op="connect", applicationId="APP")
    assert await c.recv() == {"op": "error", "code": 141, "error": "You shall not pass!", "reconnect": False,
                              "requestId": None}


async def test_bad_keys_are_refused_before_any_hook_runs(live):
    client, _ = live
    hooks = _RefuseConnect(RuntimeError("never"))
    c = await client(hooks)
    await c.send(op="connect", applicationId="OTHER")
    assert (await c.recv())["code"] == 4
    assert hooks.seen == []


class _Subscribe(LiveQueryHooks):
    async def before_subscribe(self, request) -> None:
        if request.where.get("room") == "secret":
            raise ParseError(ParseError.VALIDATION_ERROR, "not this room")
        request.where = {**request.where, "visible": True}  # narrows the subscription


async def test_a_before_subscribe_hook_refuses_a_subscription_and_narrows_another(live):
    client, create = live
    c = await client(_Subscribe())
    await c.send(op="connect", applicationId="APP")
    assert (await c.recv())["op"] == "connected"
    await c.send(op="subscribe", requestId=7, query={"className": "Chat", "where": {"room": "secret"}})
    assert await c.recv() == {"op": "error", "code": 142, "error": "not this room", "reconnect": False,
                              "requestId": 7}
    await c.send(op="subscribe", requestId=8, query={"className": "Chat", "where": {"room": "open"}})
    assert (await c.recv())["op"] == "subscribed"
    await create(room="secret", visible=True)
    await create(room="open", visible=False)
    await create(room="open", visible=True, n=3)
    event = await c.recv()
    assert (event["op"], event["requestId"], event["object"]["n"]) == ("create", 8, 3)
    await c.nothing()


class _AfterEvent(LiveQueryHooks):
    async def after_event(self, event) -> None:
        if event.object.get("hide"):
            event.send = False
        event.object["seenBy"] = event.request_id
        if event.object.get("boom"):
            raise ParseError(ParseError.SCRIPT_FAILED, "boom")


async def test_an_after_event_hook_changes_or_withholds_each_subscribers_event(live):
    client, create = live
    c = await client(_AfterEvent())
    await c.send(op="connect", applicationId="APP")
    assert (await c.recv())["op"] == "connected"
    for rid in (1, 2):
        await c.send(op="subscribe", requestId=rid, query={"className": "Chat", "where": {}})
        assert (await c.recv())["op"] == "subscribed"
    await create(hide=True)
    await create(boom=True)
    await create(n=1)
    got = [await c.recv() for _ in range(4)]
    errors = [m for m in got if m["op"] == "error"]
    events = [m for m in got if m["op"] == "create"]
    assert sorted((m["requestId"], m["code"], m["error"]) for m in errors) == [(1, 141, "boom"), (2, 141, "boom")]
    assert sorted((m["requestId"], m["object"]["seenBy"], m["object"]["n"]) for m in events) == [(1, 1, 1), (2, 2, 1)]
    await c.nothing()


def test_with_no_hook_overridden_the_server_has_none_to_call():
    class Partial(LiveQueryHooks):
        async def before_subscribe(self, request) -> None:
            pass

    assert [LiveQueryHooks().active(n) for n in ("before_connect", "before_subscribe", "after_event")] == [None] * 3
    assert Partial().active("before_connect") is None and Partial().active("before_subscribe") is not None
