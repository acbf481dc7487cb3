"""Dropping every projection table and replaying the log gives identical projections."""

from __future__ import annotations

import sys

import trio

from parsnip.core.commands import (
    CREATE_CLASS, DROP_CLASS, PURGE_CLASS, UNSET, UPDATE_CLASS, ConfigChange, Create, Delete, FileChange, Restore,
    RestoreClass, SchemaChange, Update,
)
from parsnip.core.events import Context
from parsnip.core.history.moment import Moment
from parsnip.core.operations import Op, parse_op
from parsnip.projections.rebuild import fingerprint, rebuild
from tests.conftest import ROOT

MASTER = Context(master=True)


async def _history(rt) -> None:
    """A little of everything: schema growth, every operator, ACLs set and removed, deletes."""
    ids = []
    for i in range(20):
        [r] = await rt.write([Create("Game", {
            "score": Op("Set", i * 1.5), "name": Op("Set", f"p{i}"), "tags": Op("Set", ["x"]),
            "when": Op("Set", {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"}),
            "where": Op("Set", {"__type": "GeoPoint", "latitude": 1.5, "longitude": -2}),
            "ACL": Op("Set", {"*": {"read": True}}),
        })], MASTER)
        ids.append(r.object_id)
    for i, oid in enumerate(ids):
        await rt.write([Update("Game", oid, {
            "score": Op("Increment", 2), "tags": Op("AddUnique", ["y", "x"]),
            "extra": Op("Set", {"nested": [1, {"a": None}]}),
        })], MASTER)
        if i % 3 == 0:
            await rt.write([Update("Game", oid, {"tags": Op("Remove", ["x"]), "ACL": Op("Delete"), "name": Op("Delete")})], MASTER)
        if i % 5 == 0:
            await rt.write([Delete("Game", oid)], MASTER)
    [fan, _] = await rt.write([
        Create("Other", {"p": Op("Set", {"__type": "Pointer", "className": "Game", "objectId": ids[1]})}),
        Create("Other", {"b": Op("Set", {"__type": "Bytes", "base64": "aGVsbG8="})})], MASTER)
    await rt.write([Update("Other", fan.object_id, {"likes": parse_op({"__op": "AddRelation", "objects": [
        {"__type": "Pointer", "className": "Game", "objectId": i} for i in ids[:6]]})})], MASTER)
    await rt.write([Update("Other", fan.object_id, {"likes": parse_op({"__op": "RemoveRelation", "objects": [
        {"__type": "Pointer", "className": "Game", "objectId": ids[2]}]})})], MASTER)
    # Files: one kept, one deleted, one deleted and uploaded again under its name (preserveFileName).
    for name in ("kept.txt", "gone.txt", "again.txt"):
        await rt.write([FileChange(name, "create", 3, "text/plain", "d" * 64, {"m": 1}, {"t": "x"})], MASTER)
    for name in ("gone.txt", "again.txt"):
        await rt.write([FileChange(name, "delete")], MASTER)
    await rt.write([FileChange("again.txt", "create", 5, "text/plain", "e" * 64)], MASTER)


async def _schema_history(rt) -> None:
    """Schema API changes: a class with permissions and indexes, a CLP change, an index added
    and one dropped, a field deleted from objects that hold it (and its index), a purge, a
    dropped class and a deleted relation field."""
    await rt.write([SchemaChange("Shop", CREATE_CLASS, {"title": {"type": "String"}, "price": {"type": "Number"}},
                                 {"get": {"*": True}}, {"byTitle": {"title": 1}})], MASTER)
    for i in range(5):
        await rt.write([Create("Shop", {"title": Op("Set", f"t{i}"), "price": Op("Set", i), "note": Op("Set", "n")})],
                       MASTER)
    await rt.write([SchemaChange("Shop", UPDATE_CLASS, None, {"find": {"role:Staff": True}},
                                 {"byPrice": {"price": -1, "title": 1}, "words": {"title": "text"}, "onNote": {"note": 1},
                                  "byTitle": {"__op": "Delete"}})], MASTER)
    await rt.write([SchemaChange("Shop", UPDATE_CLASS, {"note": {"__op": "Delete"}})], MASTER)
    await rt.write([SchemaChange("Scratch", CREATE_CLASS, {"x": {"type": "Number"}})], MASTER)
    await rt.write([Create("Scratch", {"x": Op("Set", 1)})], MASTER)
    await rt.write([SchemaChange("Scratch", PURGE_CLASS)], MASTER)
    await rt.write([SchemaChange("Gone", CREATE_CLASS, {"y": {"type": "String"}}, UNSET, {"byY": {"y": 1}})], MASTER)
    await rt.write([SchemaChange("Gone", DROP_CLASS)], MASTER)
    await rt.write([SchemaChange("Other", UPDATE_CLASS, {"likes": {"__op": "Delete"}})], MASTER)
    # Parse.Config: set, increment, delete, flags.
    await rt.write([ConfigChange({"motd": Op("Set", "hi"), "n": Op("Increment", 2)}, {"motd": True})], MASTER)
    await rt.write([ConfigChange({"n": Op("Increment", 3), "motd": Op("Delete")}, {})], MASTER)


async def _indexes(rt) -> dict[str, str]:
    rows = await rt.gateway.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'p\\_%'")
    return {r[0]: r[1] for r in rows}


async def _rebuild_and_compare(rt) -> tuple[dict, dict, int]:
    async def run(pool):
        async with pool.acquire() as conn:
            before = await fingerprint(conn)
            n = await rebuild(conn)
            return before, await fingerprint(conn), n

    return await rt.gateway.call(run, rt.gateway.pool)


async def test_rebuild_reproduces_projections_exactly(runtime):
    await _history(runtime)
    before, after, replayed = await _rebuild_and_compare(runtime)
    assert set(before) == {"p_Game", "p_Other", "h_Game", "h_Other", "parsnip_schema", "parsnip_relations",
                           "parsnip_config", "parsnip_files"}
    assert after == before
    assert replayed == await runtime.gateway.fetchval("SELECT count(*) FROM parsnip_events")
    # The rebuilt tables hold real rows, not an empty match of empty tables.
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Game"') == 16
    assert await runtime.gateway.fetchval("SELECT count(*) FROM parsnip_relations") == 5
    files = await runtime.gateway.fetch("SELECT name, version, size, deleted_at IS NULL AS live FROM parsnip_files"
                                        " ORDER BY name")
    assert [tuple(r) for r in files] == [("again.txt", 3, 5, True), ("gone.txt", 2, 3, False), ("kept.txt", 1, 3, True)]


async def test_rebuild_reproduces_schema_api_changes(runtime):
    await _history(runtime)
    await _schema_history(runtime)
    indexes = await _indexes(runtime)
    before, after, _ = await _rebuild_and_compare(runtime)
    assert after == before
    assert await _indexes(runtime) == indexes
    assert {"p_Shop_i_byPrice", "p_Shop_i_words"} <= set(indexes)
    assert not {"p_Shop_i_byTitle", "p_Shop_i_onNote", "p_Gone_i_byY"} & set(indexes)
    # A dropped class keeps its history table (h_Gone).
    assert set(before) == {"p_Game", "p_Other", "p_Shop", "p_Scratch", "h_Game", "h_Other", "h_Shop", "h_Scratch",
                           "h_Gone", "parsnip_schema", "parsnip_relations", "parsnip_config", "parsnip_files"}
    shop = await runtime.gateway.fetch("SELECT field, type FROM parsnip_schema WHERE class_name = 'Shop' ORDER BY 1")
    assert [r["field"] for r in shop] == ["", "price", "title"]
    assert shop[0]["type"]["classLevelPermissions"]["find"] == {"role:Staff": True}
    assert set(shop[0]["type"]["indexes"]) == {"_id_", "byPrice", "words"}
    assert await runtime.gateway.fetchval("SELECT count(*) FROM \"p_Shop\" WHERE data ? 'note'") == 0
    assert await runtime.gateway.fetchval("SELECT count(*) FROM \"p_Shop\"") == 5
    assert await runtime.gateway.fetchval("SELECT count(*) FROM \"p_Scratch\"") == 0
    assert await runtime.gateway.fetchval("SELECT count(*) FROM parsnip_relations") == 0
    config = await runtime.gateway.fetchrow("SELECT version, params, master_key_only FROM parsnip_config")
    assert (config["version"], config["params"], config["master_key_only"]) == (2, {"n": 5}, {"motd": False, "n": False})


async def test_rebuild_repairs_a_damaged_projection(runtime):
    await _history(runtime)
    before, _, _ = await _rebuild_and_compare(runtime)
    await runtime.gateway.execute('UPDATE "p_Game" SET data = data || \'{"score": -1}\'::jsonb')
    await runtime.gateway.execute('DELETE FROM "p_Other"')
    _, after, _ = await _rebuild_and_compare(runtime)
    assert after == before


async def test_parsnip_rebuild_command(runtime, fresh_dsn):
    await _history(runtime)
    proc = await trio.run_process(
        [sys.executable, "-m", "parsnip.api.cli", "rebuild", "--databaseURI", fresh_dsn, "--masterKey", "x"],
        cwd=ROOT, capture_stdout=True, capture_stderr=True,
    )
    out = proc.stdout.decode()
    assert "identical to the tables it replaced" in out, out + proc.stderr.decode()


async def test_rebuild_reproduces_restores(runtime):
    """Restores are ordinary events: an undelete (with its kept createdAt), a revert, and a class
    put back (deletes of objects made since included) replay to the same tables."""
    await _history(runtime)
    ids = [r[0] for r in await runtime.gateway.fetch('SELECT object_id FROM "p_Game" ORDER BY 1')]
    then = await runtime.gateway.fetchval("SELECT max(position) FROM parsnip_events")
    await runtime.write([Delete("Game", ids[1]), Update("Game", ids[2], {"score": Op("Set", -1), "name": Op("Delete")})],
                        MASTER)
    await runtime.write([Create("Game", {"late": Op("Set", True)})], MASTER)
    await runtime.write([Restore("Game", ids[1], version=1)], MASTER)  # an undelete, to its first version
    await runtime.write([Restore("Game", ids[2], moment=Moment(position=then))], MASTER)  # a revert
    await runtime.write([Delete("Game", ids[1])], MASTER)
    await runtime.write([Update("Game", ids[3], {"ACL": Op("Set", {"*": {"read": False}}), "more": Op("Set", [1])})],
                        MASTER)
    [done] = await runtime.write([RestoreClass("Game", Moment(position=then))], MASTER)
    assert done.fields == {"restored": 1, "deleted": 1, "reverted": 1}
    kinds = await runtime.gateway.fetch("SELECT kind, count(*) FROM \"h_Game\" WHERE kind = 'restore' GROUP BY 1")
    assert [tuple(r) for r in kinds] == [("restore", 5)]
    before, after, _ = await _rebuild_and_compare(runtime)
    assert after == before


async def test_a_fingerprint_tells_a_changed_row_and_a_missing_one(runtime):
    await _history(runtime)

    async def prints(pool):
        async with pool.acquire() as conn:
            return await fingerprint(conn)

    before = await runtime.gateway.call(prints, runtime.gateway.pool)
    oid = await runtime.gateway.fetchval('SELECT object_id FROM "p_Game" ORDER BY object_id LIMIT 1')
    await runtime.gateway.execute("""UPDATE "p_Game" SET data = data || '{"x": 1}' WHERE object_id = $1""", oid)
    changed = await runtime.gateway.call(prints, runtime.gateway.pool)
    await runtime.gateway.execute('DELETE FROM "p_Game" WHERE object_id = $1', oid)
    missing = await runtime.gateway.call(prints, runtime.gateway.pool)
    assert len({before["p_Game"], changed["p_Game"], missing["p_Game"]}) == 3
    assert before["h_Game"] == changed["h_Game"] == missing["h_Game"]
