"""Several nodes on one database: each node's bus sees every node's events, in position order."""

from __future__ import annotations

import trio

from parsnip.api.runtime import open_runtime
from parsnip.core import log as event_log
from parsnip.core.commands import CREATE_CLASS, DROP_CLASS, UNSET, UPDATE_CLASS, Create, SchemaChange
from parsnip.core.config import Config
from parsnip.core.events import CREATE, Context
from parsnip.core.operations import Op
from parsnip.core.schema_clp import EMPTY

MASTER = Context(master=True)


async def test_every_node_sees_every_commit_in_order(fresh_dsn):
    config = Config(appId="t", masterKey="m")
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b:
        subs = [a.bus.subscribe(), b.bus.subscribe()]

        async def writes(rt, tag: str) -> None:
            for i in range(20):
                await rt.write([Create("Chat", {"tag": Op("Set", tag), "i": Op("Set", i)})], MASTER)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writes, a, "a")
            nursery.start_soon(writes, b, "b")

        seen = []
        for sub in subs:
            got = []
            with trio.fail_after(5):
                while sum(e.kind == CREATE for e in got) < 40:
                    got.append(await sub.receive())
            seen.append([(e.position, e.kind, e.object_id) for e in got])
        assert seen[0] == seen[1]
        positions = [p for p, _, _ in seen[0]]
        assert positions == list(range(positions[0], positions[0] + len(positions)))
        # The class node A created first is known to node B without a restart.
        assert a.schema.has_class("Chat") and b.schema.has_class("Chat")
        assert b.schema.fields("Chat") == a.schema.fields("Chat") == {"tag": {"type": "String"}, "i": {"type": "Number"}}


async def test_a_node_learns_a_class_created_elsewhere_on_first_read(fresh_dsn):
    config = Config(appId="t", masterKey="m")
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b:
        await a.write([Create("Fresh", {"x": Op("Set", 1)})], MASTER)
        # Whether or not B's follower has run yet, a read must find the class.
        assert await b.has_class("Fresh")
        assert not await b.has_class("Nope")


async def _followed(node, writer) -> None:
    """Wait until `node` has delivered everything `writer`'s node committed."""
    head = await writer.read(event_log.head)
    with trio.fail_after(5):
        while node.bus.last_position < head:
            await trio.sleep(0.01)


async def test_schema_api_changes_on_one_node_reach_the_others(fresh_dsn):
    config = Config(appId="t", masterKey="m")
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b:
        await a.write([Create("Shared", {"keep": Op("Set", 1), "gone": Op("Set", "x")})], MASTER)
        await a.write([SchemaChange("Shared", UPDATE_CLASS, {"gone": {"__op": "Delete"}}, {"get": {"*": True}},
                                    {"byKeep": {"keep": 1}})], MASTER)
        await a.write([SchemaChange("Temp", CREATE_CLASS, {"t": {"type": "String"}})], MASTER)
        await _followed(b, a)
        assert b.schema.has_class("Temp")
        await a.write([SchemaChange("Temp", DROP_CLASS)], MASTER)
        await _followed(b, a)
        assert dict(b.schema.fields("Shared")) == {"keep": {"type": "Number"}}
        assert b.schema.clp("Shared") == {**EMPTY, "get": {"*": True}}
        assert set(b.schema.snapshot("Shared").indexes) == {"_id_", "byKeep"}
        assert not b.schema.has_class("Temp")
        # The deleted field's name is free on B too, for another type.
        await b.write([Create("Shared", {"gone": Op("Set", 5)})], MASTER)
        await _followed(a, b)
        assert a.schema.fields("Shared")["gone"] == {"type": "Number"}


async def test_a_write_to_a_class_dropped_elsewhere_creates_it_anew(fresh_dsn):
    config = Config(appId="t", masterKey="m")
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b:
        await a.write([SchemaChange("Fleeting", CREATE_CLASS, {"n": {"type": "Number"}}, UNSET)], MASTER)
        await a.write([SchemaChange("Fleeting", DROP_CLASS)], MASTER)
        await _followed(b, a)
        # B as it was before its follower saw the drop: it still believes in the class.
        b.schema.apply_event("Fleeting", {"new_class": True, "fields": {"n": {"type": "Number"}}})
        await b.write([Create("Fleeting", {"n": Op("Set", 2), "m": Op("Set", "x")})], MASTER)
        assert await b.gateway.fetchval('SELECT count(*) FROM "p_Fleeting"') == 1
        fields = {"n": {"type": "Number"}, "m": {"type": "String"}}
        assert dict(b.schema.fields("Fleeting")) == fields
        await _followed(a, b)
        assert dict(a.schema.fields("Fleeting")) == fields
        rows = await a.gateway.fetch("SELECT field FROM parsnip_schema WHERE class_name = 'Fleeting' ORDER BY 1")
        assert [r[0] for r in rows] == ["", "m", "n"]
