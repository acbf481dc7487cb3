"""Several nodes on one database: each node's bus sees every node's events, in position order."""

from __future__ import annotations

import trio

from api.runtime import open_runtime
from core.commands import Create
from core.config import Config
from core.events import CREATE, Context
from core.operations import Op

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
