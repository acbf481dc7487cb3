"""The history projection: at every log position it holds exactly the objects a replay of the
log up to that position gives; its current versions are the live table; a rebuild reproduces it."""

from __future__ import annotations

import itertools
import json

import trio
from hypothesis import HealthCheck, given, settings, strategies as st

from parsnip.api.runtime import open_runtime
from parsnip.core import log as event_log
from parsnip.core.config import Config
from parsnip.core.commands import PURGE_CLASS, UPDATE_CLASS, Create, Delete, SchemaChange, Update
from parsnip.core.events import CREATE, DELETE, PURGE, SCHEMA, UPDATE, Context
from parsnip.core.errors import ParseError
from parsnip.core.layout import as_of_table, history_table, table
from parsnip.core.operations import Op
from parsnip.projections.rebuild import fingerprint, rebuild

MASTER = Context(master=True)
CLASSES = ("Hx", "Hy")


# One write: (what, which class, which object, which field, a value). Writes in one group run
# concurrently, so a group commit holds several events (of one object too).
WRITE = st.tuples(st.sampled_from(["create", "set", "increment", "unset", "acl", "delete", "purge", "drop_field"]),
                  st.sampled_from(CLASSES), st.integers(0, 30), st.integers(0, 3), st.integers(0, 99))
GROUPS = st.lists(st.lists(WRITE, min_size=1, max_size=4), min_size=1, max_size=12)


async def _run_writes(rt, groups, names: dict[str, str]) -> None:
    """Creates, updates (sets, increments, unsets, ACL changes), deletes, field deletions and
    purges, each group's writes at once."""
    live: dict[str, list[str]] = {c: [] for c in CLASSES}

    async def one(what: str, cls: str, pick: int, f: int, value: int) -> None:
        ids, table_cls = live[cls], names[cls]
        oid = ids[pick % len(ids)] if ids else None
        try:
            if what == "create" or oid is None:
                fields = {f"f{f}": Op("Set", value), "n": Op("Set", value % 5)}
                if value % 3 == 0:
                    fields["ACL"] = Op("Set", {"*": {"read": value % 2 == 0}})
                [r] = await rt.write([Create(table_cls, fields)], MASTER)
                ids.append(r.object_id)
            elif what == "purge":
                await rt.write([SchemaChange(table_cls, PURGE_CLASS)], MASTER)
                ids.clear()
            elif what == "drop_field":
                await rt.write([SchemaChange(table_cls, UPDATE_CLASS, {f"f{f}": {"__op": "Delete"}})], MASTER)
            elif what == "delete":
                ids.remove(oid)
                await rt.write([Delete(table_cls, oid)], MASTER)
            else:
                op = {"set": Op("Set", {"a": [value, None]}), "increment": Op("Increment", value),
                      "unset": Op("Delete"), "acl": Op("Set", {"*": {"read": True}})}[what]
                await rt.write([Update(table_cls, oid, {"ACL" if what == "acl" else f"f{f}": op})], MASTER)
        except ParseError:  # a concurrent delete got there first, a type clash, a missing field: not written
            pass

    for group in groups:
        async with trio.open_nursery() as nursery:
            for write in group:
                nursery.start_soon(one, *write)


def _replay(events, upto: int) -> dict[str, dict[str, dict]]:
    """Each class's objects (id -> version, ACL and fields) after the events up to `upto`."""
    state: dict[str, dict[str, dict]] = {}
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


_EXAMPLES = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=GROUPS, probes=st.lists(st.integers(0, 10**6), max_size=20))
async def test_history_is_the_replay_at_every_position_and_rebuilds_identically(fresh_dsn, groups, probes):
    # A runtime per example (each example is its own trio run), all on one database.
    async with open_runtime(Config(appId="test", masterKey="test-master"), fresh_dsn) as runtime:
        await _check_history(runtime, groups, probes)


async def _check_history(runtime, groups, probes) -> None:
    n = next(_EXAMPLES)
    names = {c: f"{c}{n}" for c in CLASSES}  # each example its own classes (one database for all)
    await _run_writes(runtime, groups, names)
    events = [ev for ev in await runtime.gateway.call(_all_events, runtime.gateway.pool)
              if ev.class_name in names.values()]
    if not events:
        return
    first, head = events[0].position - 1, events[-1].position
    written = {ev.class_name for ev in events}  # a class never written has no tables
    for position in sorted({first, head, *(first + p % (head - first + 1) for p in probes), *(e.position for e in events[:5])}):
        expected = _replay(events, position)
        for cls in written:
            assert await _as_of(runtime, cls, position) == expected.get(cls, {}), (cls, position)

    for cls in written:  # the versions in effect now are the live table, times to the microsecond
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

    assert {"h_Hi_object", "h_Hi_open", "h_Hi_valid", "h_Hi_data", "h_Hi_i_byT"} <= await names()
    await runtime.write([SchemaChange("Hi", UPDATE_CLASS, None, UNSET, {"byT": {"__op": "Delete"}})], MASTER)
    assert "h_Hi_i_byT" not in await names()


async def test_closing_a_version_probes_the_open_index_however_big_the_young_table(runtime):
    """Every write closes its objects' open versions. The statement is prepared, and its
    generic plan may have been made when the table was young: however the table grew since,
    the close must read only the versions of the objects it closes (joined only, the plan
    hashed every open version: a create's cost grew with its class)."""
    from parsnip.projections.history import close_sql

    await runtime.write([Create("Big", {"n": Op("Set", 0)})], MASTER)
    ids = ["o1", "o2", "o3"]

    def grow(n: int) -> str:
        return ("INSERT INTO \"h_Big\" (object_id, version, valid_from, valid_to, created_at, updated_at, data,"
                " deleted, kind) SELECT 'o' || i, 1, 1000 + i, NULL, now(), now(), '{}'::jsonb, false, 'create'"
                f" FROM generate_series((SELECT count(*) FROM \"h_Big\"), {n}) AS i")

    async def plan_when_grown(conn) -> dict:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            # Planned on a young table (a few batches of creates, never analyzed) and used
            # again once it has grown, as a cached plan is.
            await conn.execute(grow(2000))
            await conn.execute(f"PREPARE close(text[], bigint[]) AS {close_sql(history_table('Big'))}")
            run = "EXECUTE close('{o1,o2,o3}', '{30001,30002,30003}')"
            await conn.execute(run)
            await conn.execute(grow(20000))
            return json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {run}"))[0]["Plan"]
        finally:
            await conn.execute("DEALLOCATE close; RESET plan_cache_mode")

    async def on_one_connection() -> dict:
        async with runtime.gateway.pool.acquire() as conn:
            return await plan_when_grown(conn)

    plan = await runtime.gateway.call(on_one_connection)

    def scans(node: dict):
        if node.get("Relation Name") == "h_Big" or node.get("Index Name") == "h_Big_open":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    read = [(n["Node Type"], n["Actual Rows"] * n["Actual Loops"]) for n in scans(plan)]
    assert read and all(rows <= len(ids) for _, rows in read), read
