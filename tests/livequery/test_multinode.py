"""Several Parsnip processes sharing PostgreSQL and Redis: a subscriber on one node sees every
write made through the others, in commit order, and none is missed when Redis goes away."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.conftest import _admin_sql, _with_database, start_server, stop_server
from tests.redis_helpers import redis_server  # noqa: F401 (a fixture)


@pytest.fixture
def nodes(admin_dsn: str, redis_server):  # noqa: F811
    name = "parsnip_mn_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    dsn = _with_database(admin_dsn, name)
    live = json.dumps({"classNames": [".*"], "redisURL": redis_server.url})
    started = []
    try:
        for _ in range(3):
            started.append(start_server(dsn, "--startLiveQueryServer", "--liveQuery", live))
        yield started
    finally:
        for info in started:
            stop_server(info)
        _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _create_class(node, cls: str) -> None:
    """The class exists before anyone subscribes."""
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{node.url}/classes/{cls}", json={"w": -1, "seq": -1, "n": 0},
                         headers={"X-Parse-Application-Id": node.app_id, "X-Parse-Master-Key": node.master_key})
        assert r.status_code == 201


async def _subscriber(node, cls: str, ready: trio.Event, got: list, expect: int) -> None:
    async with open_websocket_url(node.url.replace("http://", "ws://")) as ws:
        await ws.send_message(json.dumps({"op": "connect", "applicationId": node.app_id}))
        assert json.loads(await ws.get_message())["op"] == "connected"
        await ws.send_message(json.dumps({"op": "subscribe", "requestId": 1,
                                          "query": {"className": cls, "where": {}}}))
        assert json.loads(await ws.get_message())["op"] == "subscribed"
        ready.set()
        with trio.fail_after(60):
            while len(got) < expect:
                got.append(json.loads(await ws.get_message()))


async def _write(node, cls: str, writer: int, count: int, between=None) -> list[tuple[int, int]]:
    """Create then update objects through one node; (writer, seq) in the order the node answered."""
    done = []
    async with httpx.AsyncClient(base_url=node.url, timeout=30,
                                 headers={"X-Parse-Application-Id": node.app_id,
                                          "X-Parse-Master-Key": node.master_key}) as c:
        for seq in range(count):
            if between is not None:
                await between(seq)
            r = await c.post(f"/classes/{cls}", json={"w": writer, "seq": seq, "n": 0})
            assert r.status_code == 201, r.text
            r2 = await c.put(f"/classes/{cls}/{r.json()['objectId']}", json={"n": {"__op": "Increment", "amount": 1}})
            assert r2.status_code == 200, r2.text
            done.append((writer, seq))
    return done


def _check(got: list[dict], writers: int, count: int) -> None:
    events = [m for m in got if m["op"] in ("create", "update")]
    positions = [m["position"] for m in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)  # commit order, no repeats
    for w in range(writers):
        mine = [(m["op"], m["object"]["seq"], m["object"]["n"]) for m in events if m["object"]["w"] == w]
        # each writer's objects, created then updated, in the order that writer made them
        assert mine == [x for seq in range(count) for x in (("create", seq, 0), ("update", seq, 1))]


async def test_a_subscriber_on_one_node_sees_the_others_writes_in_commit_order(nodes):
    cls = "Multi" + secrets.token_hex(3)
    count = 15
    await _create_class(nodes[0], cls)
    got: list[dict] = []
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_subscriber, nodes[2], cls, ready, got, 2 * 2 * count)
        await ready.wait()
        async with trio.open_nursery() as writers:
            writers.start_soon(_write, nodes[0], cls, 0, count)
            writers.start_soon(_write, nodes[1], cls, 1, count)
    _check(got, 2, count)


async def test_nothing_is_missed_while_redis_is_down_or_restarting(nodes, redis_server):  # noqa: F811
    cls = "Multi" + secrets.token_hex(3)
    count = 20

    async def redis_trouble(seq: int) -> None:
        if seq == 5:
            redis_server.kill()
        if seq == 12:
            redis_server.start()

    await _create_class(nodes[0], cls)
    got: list[dict] = []
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_subscriber, nodes[1], cls, ready, got, 2 * count)
        await ready.wait()
        await _write(nodes[0], cls, 0, count, redis_trouble)
    _check(got, 1, count)
