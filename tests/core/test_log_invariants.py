"""The event log's invariants (DESIGN.md), each against a real PostgreSQL.

- append-only: the database refuses UPDATE, DELETE and TRUNCATE of events;
- positions are dense and in commit order, with concurrent writers on several connections,
  so a reader tailing `> N` never skips an event;
- two concurrent writers of one object never both win silently;
- every event records who, when and how, and the operations with their resulting fields.
"""

from __future__ import annotations

import random

import asyncpg
import pytest
import trio

from parsnip.api.runtime import open_runtime
from parsnip.core import log as event_log
from parsnip.core.commands import Create, Delete, Update
from parsnip.core.config import Config
from parsnip.core.events import CREATE, SCHEMA, UPDATE, Context, Event, object_states
from parsnip.core.operations import Op
from parsnip.core.values import now


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


def _aio(fn):
    """Run an asyncio coroutine function in a fresh asyncio loop from a trio test (via a thread)."""
    import asyncio

    return trio.to_thread.run_sync(lambda: asyncio.run(fn()))


async def test_database_refuses_changes_to_the_log(runtime, fresh_dsn):
    await runtime.write([Create("Note", {"text": Op("Set", "hello")})], Context(master=True))

    async def attempts():
        conn = await asyncpg.connect(fresh_dsn)
        outcomes = {}
        try:
            for name, sql in [
                ("update", "UPDATE parsnip_events SET kind = 'delete'"),
                ("delete", "DELETE FROM parsnip_events"),
                ("truncate", "TRUNCATE parsnip_events"),
            ]:
                try:
                    await conn.execute(sql)
                    outcomes[name] = "allowed"
                except asyncpg.exceptions.InsufficientPrivilegeError as e:
                    outcomes[name] = str(e)
            outcomes["count"] = await conn.fetchval("SELECT count(*) FROM parsnip_events")
        finally:
            await conn.close()
        return outcomes

    out = await _aio(attempts)
    for name in ("update", "delete", "truncate"):
        assert "append-only" in out[name], out
    assert out["count"] == 2  # the schema event and the create, untouched


async def test_positions_dense_in_commit_order_under_concurrent_raw_appenders(runtime, fresh_dsn):
    """Many connections append with random delays inside their transactions; a tailer never skips."""
    writers, per_writer = 8, 25

    async def scenario():
        import asyncio

        seen: list[int] = []
        done = asyncio.Event()
        ready = asyncio.Event()  # the tailer has its starting head: only then may writers commit

        async def writer(i: int) -> None:
            conn = await asyncpg.connect(fresh_dsn)
            try:
                for j in range(per_writer):
                    async with conn.transaction():
                        await asyncio.sleep(random.random() * 0.003)
                        ev = Event(CREATE, "Raw", f"w{i}-{j}", 1, now(), Context(), {"set": {}})
                        await event_log.append(conn, [ev])
                        await asyncio.sleep(random.random() * 0.002)  # hold the head a little
            finally:
                await conn.close()

        async def tailer() -> None:
            conn = await asyncpg.connect(fresh_dsn)
            last = await event_log.head(conn)
            base = last
            ready.set()
            try:
                while True:
                    finished = done.is_set()
                    for ev in await event_log.read_after(conn, last):
                        assert ev.position == last + 1, f"skipped from {last} to {ev.position}"
                        last = ev.position
                        seen.append(ev.position)
                    if finished:
                        return
                    await asyncio.sleep(0)
            finally:
                await conn.close()
                seen.insert(0, base)

        t = asyncio.ensure_future(tailer())
        await ready.wait()
        await asyncio.gather(*(writer(i) for i in range(writers)))
        done.set()
        await t
        return seen

    seen = await _aio(scenario)
    base, positions = seen[0], seen[1:]
    assert positions == list(range(base + 1, base + 1 + writers * per_writer))


async def test_positions_dense_across_several_nodes_and_rolled_back_writes(fresh_dsn):
    """Three runtimes (three writers, like three nodes) commit concurrently, some writes fail."""
    config = Config(appId="t", masterKey="m")
    failures = 0
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b, \
            open_runtime(config, fresh_dsn) as c:
        await a.write([Create("Item", {"n": Op("Set", 0)})], Context(master=True))
        for rt in (b, c):
            rt.schema.load([("Item", "n", {"type": "Number"})])

        async def node(rt, k: int) -> None:
            nonlocal failures
            for i in range(30):
                value = "bad" if i % 7 == 0 else i  # a type error: rolled back, takes no position
                try:
                    await rt.write([Create("Item", {"n": Op("Set", value)})], Context(master=True))
                except Exception:
                    failures += 1

        async with trio.open_nursery() as nursery:
            for k, rt in enumerate((a, b, c)):
                nursery.start_soon(node, rt, k)
        rows = await a.gateway.fetch("SELECT position FROM parsnip_events ORDER BY position")
    positions = [r[0] for r in rows]
    assert failures == 3 * 5
    assert positions == list(range(1, len(positions) + 1))
    assert len(positions) == 2 + 3 * 25  # schema + first create, then the successful creates


async def test_concurrent_writers_of_one_object_never_both_win(fresh_dsn):
    """Two nodes increment one counter concurrently: no update is lost, versions are dense."""
    config = Config(appId="t", masterKey="m")
    async with open_runtime(config, fresh_dsn) as a, open_runtime(config, fresh_dsn) as b:
        [r] = await a.write([Create("Counter", {"n": Op("Set", 0)})], Context(master=True))
        b.schema.load([("Counter", "n", {"type": "Number"})])
        oid = r.object_id

        async def bump(rt, times: int) -> None:
            for _ in range(times):
                await rt.write([Update("Counter", oid, {"n": Op("Increment", 1)})], Context(master=True))

        async with trio.open_nursery() as nursery:
            for rt in (a, b, a, b):
                nursery.start_soon(bump, rt, 25)
        n = await a.gateway.fetchval(f'SELECT (data->>\'n\')::int FROM "p_Counter" WHERE object_id = $1', oid)
        versions = [row[0] for row in await a.gateway.fetch(
            "SELECT version FROM parsnip_events WHERE object_id = $1 ORDER BY position", oid)]
    assert n == 100
    assert versions == list(range(1, 102))


async def test_database_refuses_two_events_with_one_object_version(runtime, fresh_dsn):
    [r] = await runtime.write([Create("Doc", {"t": Op("Set", "a")})], Context(master=True))

    async def duplicate():
        conn = await asyncpg.connect(fresh_dsn)
        try:
            async with conn.transaction():
                ev = Event(UPDATE, "Doc", r.object_id, 1, now(), Context(), {"set": {"t": "b"}})
                await event_log.append(conn, [ev])
        except asyncpg.exceptions.UniqueViolationError:
            return "refused"
        finally:
            await conn.close()
        return "accepted"

    assert await _aio(duplicate) == "refused"


async def test_event_records_who_when_how_and_what(runtime):
    ctx = Context(user_id="u1", session_id="s1", installation_id="inst-1", master=False,
                  request_id="req-42", client_ip="127.0.0.1")
    [created] = await runtime.write(
        [Create("Score", {"score": Op("Set", 10), "tags": Op("Add", ["a"])})], ctx
    )
    await runtime.write([Update("Score", created.object_id, {"score": Op("Increment", 5),
                                                              "tags": Op("Delete")})], ctx)
    events = await runtime.read(event_log.object_history, "Score", created.object_id)
    assert [e.kind for e in events] == [CREATE, UPDATE]
    for e in events:
        assert e.context == ctx
        assert e.at is not None and e.position is not None
    assert events[0].payload["ops"] == {"score": 10, "tags": {"__op": "Add", "objects": ["a"]}}
    assert events[0].payload["set"] == {"score": 10, "tags": ["a"]}
    assert events[1].payload["ops"] == {"score": {"__op": "Increment", "amount": 5}, "tags": {"__op": "Delete"}}
    assert events[1].payload["set"] == {"score": 15}
    assert events[1].payload["unset"] == ["tags"]
    schema = [e for e in await runtime.read(event_log.read_after, 0) if e.kind == SCHEMA]
    assert schema[0].payload == {"fields": {"score": {"type": "Number"}, "tags": {"type": "Array"}}, "new_class": True}


async def test_bus_delivers_committed_events_in_position_order(runtime):
    events = runtime.bus.subscribe()

    async def write_many(k: int) -> None:
        for i in range(10):
            await runtime.write([Create("Msg", {"k": Op("Set", k), "i": Op("Set", i)})], Context(master=True))

    async with trio.open_nursery() as nursery:
        for k in range(4):
            nursery.start_soon(write_many, k)
    got = []
    with trio.fail_after(5):
        while len([e for e in got if e.kind == CREATE]) < 40:
            got.append(await events.receive())
    positions = [e.position for e in got]
    assert positions == sorted(positions) == list(range(positions[0], positions[0] + len(got)))
    created = [e for e in got if e.kind == CREATE]
    for e in created:
        before, after = object_states(e)
        assert before is None
        assert {k: after[k] for k in ("k", "i", "objectId")} == {**e.payload["set"], "objectId": e.object_id}


async def test_events_carry_the_object_state_before_and_after(runtime):
    """LiveQuery and resuming readers take `original` and `object` from the event itself: the
    log's copy gives the same states as the writer's, however many writes came since."""
    events = runtime.bus.subscribe()
    ctx = Context(master=True)
    [made] = await runtime.write([Create("Doc", {"a": Op("Set", 1), "b": Op("Set", "x")})], ctx)
    oid = made.object_id
    await runtime.write([Update("Doc", oid, {"a": Op("Increment", 2), "b": Op("Delete"), "c": Op("Set", [1])})], ctx)
    await runtime.write([Update("Doc", oid, {"c": Op("Add", [2])})], ctx)
    await runtime.write([Delete("Doc", oid)], ctx)
    live = []
    with trio.fail_after(5):
        while len(live) < 4:
            e = await events.receive()
            if e.object_id == oid:
                live.append(e)
    logged = [e for e in await runtime.read(event_log.read_after, 0) if e.object_id == oid]
    assert [object_states(e) for e in logged] == [object_states(e) for e in live]
    states = [object_states(e) for e in logged]
    strip = lambda o: None if o is None else {k: v for k, v in o.items() if k not in ("createdAt", "updatedAt")}
    assert [(strip(b), strip(a)) for b, a in states] == [
        (None, {"objectId": oid, "a": 1, "b": "x"}),
        ({"objectId": oid, "a": 1, "b": "x"}, {"objectId": oid, "a": 3, "c": [1]}),
        ({"objectId": oid, "a": 3, "c": [1]}, {"objectId": oid, "a": 3, "c": [1, 2]}),
        ({"objectId": oid, "a": 3, "c": [1, 2]}, None),
    ]
    # each version's "before" times are the previous version's "after" times
    for (_, prev_after), (before, _) in zip(states, states[1:]):
        assert (before["createdAt"], before["updatedAt"]) == (prev_after["createdAt"], prev_after["updatedAt"])


async def test_a_cancelled_caller_does_not_cancel_its_write(runtime):
    events = runtime.bus.subscribe()
    with trio.CancelScope() as scope:
        scope.cancel()
        [result] = await runtime.write([Create("Late", {"x": Op("Set", 1)})], Context(master=True))
        await trio.sleep(0)  # the cancellation is still delivered, after the write
    assert scope.cancelled_caught
    assert result.object_id
    with trio.fail_after(5):
        while True:
            ev = await events.receive()
            if ev.kind == CREATE:
                break
    count = await runtime.gateway.fetchval('SELECT count(*) FROM "p_Late"')
    assert count == 1


@pytest.mark.parametrize("bad", [{"n": Op("Set", "text")}, {"n": Op("Increment", 1), "m": Op("Set", {"__type": "Bogus"})}])
async def test_a_failed_write_leaves_no_event_and_no_projection_change(runtime, bad):
    [r] = await runtime.write([Create("Thing", {"n": Op("Set", 1)})], Context(master=True))
    head = await runtime.read(event_log.head)
    with pytest.raises(Exception):
        # Op values are validated when parsed from a body; here a raw Op reaches the writer.
        await runtime.write([Update("Thing", r.object_id, bad)], Context(master=True))
    assert await runtime.read(event_log.head) == head
    n = await runtime.gateway.fetchval('SELECT data->>\'n\' FROM "p_Thing" WHERE object_id = $1', r.object_id)
    assert n == "1"
