"""The history projection: at every log position it holds exactly the objects a replay of the
log up to that position gives; its current versions are the live table; a rebuild reproduces it."""

from __future__ import annotations

import random

import pytest
import trio

from parsnip.core import log as event_log
from parsnip.core.commands import PURGE_CLASS, UPDATE_CLASS, Create, Delete, SchemaChange, Update
from parsnip.core.events import CREATE, DELETE, PURGE, SCHEMA, UPDATE, Context
from parsnip.core.errors import ParseError
from parsnip.core.layout import as_of_table, history_table, table
from parsnip.core.operations import Op
from parsnip.projections.rebuild import fingerprint, rebuild

MASTER = Context(master=True)
CLASSES = ("Hx", "Hy")


async def _random_writes(rt, rnd: random.Random, steps: int) -> None:
    """Creates, updates (sets, increments, unsets, ACL changes), deletes, concurrent writers (so
    group commits hold several events of one object), a field deletion and a purge."""
    live: dict[str, list[str]] = {c: [] for c in CLASSES}

    async def one(cls: str) -> None:
        ids = live[cls]
        roll = rnd.random()
        try:
            if roll < 0.35 or not ids:
                fields = {f"f{rnd.randrange(4)}": Op("Set", rnd.randrange(100)), "n": Op("Set", rnd.randrange(5))}
                if rnd.random() < 0.3:
                    fields["ACL"] = Op("Set", {"*": {"read": rnd.random() < 0.5}})
                [r] = await rt.write([Create(cls, fields)], MASTER)
                ids.append(r.object_id)
            elif roll < 0.85:
                oid = rnd.choice(ids)
                ops = {"n": Op("Increment", 1), f"f{rnd.randrange(4)}": rnd.choice(
                    [Op("Set", rnd.randrange(100)), Op("Delete"), Op("Set", {"a": [1, None]})])}
                if rnd.random() < 0.2:
                    ops["ACL"] = rnd.choice([Op("Delete"), Op("Set", {"*": {"read": True}})])
                await rt.write([Update(cls, oid, ops)], MASTER)
            else:
                oid = rnd.choice(ids)
                ids.remove(oid)
                await rt.write([Delete(cls, oid)], MASTER)
        except ParseError:  # a concurrent delete got there first, a type clash: not written
            pass

    for step in range(steps):
        if step == steps // 2:
            await rt.write([SchemaChange("Hx", UPDATE_CLASS, {"f1": {"__op": "Delete"}})], MASTER)
        if step == steps * 3 // 4:
            await rt.write([SchemaChange("Hy", PURGE_CLASS)], MASTER)
            live["Hy"].clear()
        async with trio.open_nursery() as nursery:
            for _ in range(rnd.randrange(1, 5)):
                nursery.start_soon(one, rnd.choice(CLASSES))


def _replay(events, upto: int) -> dict[str, dict[str, dict]]:
    """Each class's objects (id -> version, ACL and fields) after the events up to `upto`."""
    state: dict[str, dict[str, dict]] = {c: {} for c in CLASSES}
    for ev in events:
        if ev.position > upto:
            break
        objs = state.setdefault(ev.class_name, {})
        if ev.kind == CREATE:
            objs[ev.object_id] = {"version": ev.version, **ev.payload["set"]}
        elif ev.kind == UPDATE:
            objs[ev.object_id] = {"version": ev.version, **ev.payload["state"]}
        elif ev.kind == DELETE:
            objs.pop(ev.object_id, None)
        elif ev.kind == PURGE:
            objs.clear()
        elif ev.kind == SCHEMA:
            for gone in ev.payload.get("deleted_fields", ()):
                for obj in objs.values():
                    obj.pop(gone, None)
    return state


async def _as_of(rt, cls: str, position: int) -> dict[str, dict]:
    rows = await rt.gateway.fetch(
        f"SELECT object_id, version, acl, data FROM {as_of_table(cls, '$1::bigint')}", position)
    return {r["object_id"]: {"version": r["version"], **r["data"], **({"ACL": r["acl"]} if r["acl"] is not None else {})}
            for r in rows}


@pytest.mark.parametrize("seed", range(4))
async def test_history_is_the_replay_at_every_position_and_rebuilds_identically(runtime, seed):
    rnd = random.Random(seed)
    await _random_writes(runtime, rnd, 30)
    events = await runtime.gateway.call(_all_events, runtime.gateway.pool)
    head = events[-1].position
    for position in sorted({1, head, *rnd.sample(range(1, head + 1), min(25, head))}):
        expected = _replay(events, position)
        for cls in CLASSES:
            assert await _as_of(runtime, cls, position) == expected[cls], (cls, position)

    for cls in CLASSES:  # the versions in effect now are the live table, times to the microsecond
        live = await runtime.gateway.fetch(
            f"SELECT object_id, version, created_at, updated_at, acl, data FROM {table(cls)} ORDER BY 1")
        now = await runtime.gateway.fetch(
            f"SELECT object_id, version, created_at, updated_at, acl, data FROM {history_table(cls)}"
            " WHERE valid_to IS NULL AND NOT deleted ORDER BY 1")
        assert [dict(r) for r in now] == [dict(r) for r in live]

    async def again(pool):
        async with pool.acquire() as conn:
            before = await fingerprint(conn)
            await rebuild(conn)
            return before, await fingerprint(conn)

    before, after = await runtime.gateway.call(again, runtime.gateway.pool)
    assert {"h_Hx", "h_Hy"} <= set(before)
    assert after == before


async def test_history_survives_delete_and_keeps_the_last_state(runtime):
    [r] = await runtime.write([Create("Hk", {"a": Op("Set", 1)})], MASTER)
    await runtime.write([Update("Hk", r.object_id, {"a": Op("Increment", 2)})], MASTER)
    await runtime.write([Delete("Hk", r.object_id)], MASTER)
    rows = await runtime.gateway.fetch(
        f"SELECT version, valid_from, valid_to, data, deleted, kind FROM {history_table('Hk')}"
        " WHERE object_id = $1 ORDER BY valid_from", r.object_id)
    assert [(x["version"], x["data"], x["deleted"], x["kind"]) for x in rows] == [
        (1, {"a": 1}, False, "create"), (2, {"a": 3}, False, "update"), (3, {"a": 3}, True, "delete")]
    assert [x["valid_to"] for x in rows] == [rows[1]["valid_from"], rows[2]["valid_from"], None]


async def _all_events(pool):
    async with pool.acquire() as conn:
        return await event_log.read_after(conn, 0, 100000)


async def test_schema_api_indexes_are_copied_onto_the_history_table(runtime):
    from parsnip.core.commands import CREATE_CLASS, UNSET

    await runtime.write([SchemaChange("Hi", CREATE_CLASS, {"t": {"type": "String"}}, UNSET, {"byT": {"t": 1}})], MASTER)

    async def names() -> set[str]:
        rows = await runtime.gateway.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'h_Hi'")
        return {r[0] for r in rows}

    assert {"h_Hi_object", "h_Hi_data", "h_Hi_i_byT"} <= await names()
    await runtime.write([SchemaChange("Hi", UPDATE_CLASS, None, UNSET, {"byT": {"__op": "Delete"}})], MASTER)
    assert "h_Hi_i_byT" not in await names()
