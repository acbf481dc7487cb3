"""Several nodes through Redis (core/redis_bridge.py): Redis brings other nodes' commits early,
the log makes sure none is missed. Real redis-server processes, started and killed here."""

from __future__ import annotations

import pytest
import trio

from parsnip.api.runtime import open_runtime
from parsnip.core.commands import Create
from parsnip.core.config import Config
from parsnip.core.events import CREATE, Context
from parsnip.core.operations import Op
from parsnip.core.redis_bridge import decode, encode
from tests.redis_helpers import free_port, redis_server  # noqa: F401 (a fixture)

CTX = Context(master=True)


def _config(url: str) -> Config:
    return Config(appId="test", masterKey="test-master", liveQuery={"redisURL": url})


async def _collect(channel, n: int, timeout: float = 10) -> list:
    got = []
    with trio.fail_after(timeout):
        while len(got) < n:
            ev = await channel.receive()
            if ev.kind == CREATE:
                got.append(ev)
    return got


async def _wait_for(predicate, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


def test_events_survive_encoding_with_their_state():
    from parsnip.core.events import Event
    from parsnip.core.values import now
    ev = Event(CREATE, "C", "abc", 1, now(), Context(user_id="u", master=False, request_id="r"),
               {"set": {"n": 1, "ACL": {"*": {"read": True}}}, "ops": {"n": 1}}, 42)
    [back] = decode(encode([ev]))
    assert (back.position, back.kind, back.class_name, back.object_id, back.version, back.context, back.payload) == \
        (42, CREATE, "C", "abc", 1, ev.context, ev.payload)
    assert abs((back.at - ev.at).total_seconds()) < 1e-3


async def test_another_node_gets_every_commit_through_redis_in_order(fresh_dsn, redis_server):
    async with open_runtime(_config(redis_server.url), fresh_dsn) as a, \
            open_runtime(_config(redis_server.url), fresh_dsn) as b:
        await _wait_for(lambda: a.bridge.published >= 0 and b.bridge is not None)
        await trio.sleep(0.3)  # both subscribed
        seen = b.bus.subscribe()
        for i in range(30):
            await a.write([Create("Msg", {"i": Op("Set", i)})], CTX)
        got = await _collect(seen, 30)
        assert [e.payload["set"]["i"] for e in got] == list(range(30))
        positions = [e.position for e in got]
        assert positions == sorted(positions)
        assert b.bridge.received > 0  # Redis carried them, not only the log


async def test_a_lost_redis_message_is_filled_from_the_log_promptly(fresh_dsn, redis_server):
    async with open_runtime(_config(redis_server.url), fresh_dsn) as a, \
            open_runtime(_config(redis_server.url), fresh_dsn) as b:
        await trio.sleep(0.3)
        seen = b.bus.subscribe()
        await a.write([Create("Msg", {"i": Op("Set", 0)})], CTX)
        await _collect(seen, 1)
        b.bridge.drop_incoming = 1  # the next message never arrives
        start = trio.current_time()
        for i in range(1, 11):
            await a.write([Create("Msg", {"i": Op("Set", i)})], CTX)
        got = await _collect(seen, 10)
        assert [e.payload["set"]["i"] for e in got] == list(range(1, 11))
        assert trio.current_time() - start < 1.0


async def test_redis_killed_and_restarted_mid_stream_loses_nothing(fresh_dsn, redis_server):
    async with open_runtime(_config(redis_server.url), fresh_dsn) as a, \
            open_runtime(_config(redis_server.url), fresh_dsn) as b:
        await trio.sleep(0.3)
        seen = b.bus.subscribe()
        for i in range(10):
            await a.write([Create("Msg", {"i": Op("Set", i)})], CTX)
        redis_server.kill()
        for i in range(10, 20):
            await a.write([Create("Msg", {"i": Op("Set", i)})], CTX)
        redis_server.start()
        received = b.bridge.received
        await _wait_for(lambda: a.bridge.published > 0)
        deadline = trio.current_time() + 10
        i = 20
        while b.bridge.received == received and trio.current_time() < deadline:  # until Redis carries again
            await a.write([Create("Msg", {"i": Op("Set", i)})], CTX)
            i += 1
            await trio.sleep(0.1)
        got = await _collect(seen, i)
        assert [e.payload["set"]["i"] for e in got] == list(range(i))
        assert b.bridge.received > received


async def test_a_node_starts_and_works_with_redis_unreachable(fresh_dsn):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with open_runtime(_config(dead), fresh_dsn) as a, open_runtime(_config(dead), fresh_dsn) as b:
        seen = b.bus.subscribe()
        await a.write([Create("Msg", {"i": Op("Set", 1)})], CTX)
        [ev] = await _collect(seen, 1)
        assert ev.payload["set"]["i"] == 1 and b.bridge.received == 0
