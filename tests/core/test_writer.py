"""The group-committing writer: units that share a transaction succeed or fail alone."""

from __future__ import annotations

import pytest
import trio

from parsnip.core import log as event_log
from parsnip.core.commands import Create, Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op

MASTER = Context(master=True)


async def _run_all(rt, units):
    """Submit every unit at once (so they share batches); collect result or error per unit."""
    outcomes: list = [None] * len(units)

    async def one(i, commands):
        try:
            outcomes[i] = await rt.write(commands, MASTER)
        except ParseError as e:
            outcomes[i] = e

    async with trio.open_nursery() as nursery:
        for i, commands in enumerate(units):
            nursery.start_soon(one, i, commands)
    return outcomes


async def test_mixed_batch_commits_the_good_units_only(runtime):
    [seed] = await runtime.write([Create("Box", {"n": Op("Set", 1)})], MASTER)
    head = await runtime.read(event_log.head)
    units = []
    for i in range(30):
        if i % 3 == 0:
            units.append([Create("Box", {"n": Op("Set", i)})])
        elif i % 3 == 1:  # a transactional pair whose second command fails after the first wrote
            units.append([Create("Box", {"n": Op("Set", 1000 + i)}), Update("Box", "missing0000", {"n": Op("Set", 0)})])
        else:  # fails before writing
            units.append([Update("Box", seed.object_id, {"n": Op("Set", "not a number")})])
    outcomes = await _run_all(runtime, units)
    ok = [o for o in outcomes if not isinstance(o, ParseError)]
    errors = [o for o in outcomes if isinstance(o, ParseError)]
    assert len(ok) == 10
    assert sorted(e.code for e in errors) == [101] * 10 + [111] * 10
    rows = await runtime.gateway.fetch('SELECT (data->>\'n\')::int AS n FROM "p_Box" ORDER BY 1')
    assert [r["n"] for r in rows] == [0, 1] + [i for i in range(3, 30, 3)]
    positions = [r[0] for r in await runtime.gateway.fetch(
        "SELECT position FROM parsnip_events WHERE position > $1 ORDER BY 1", head)]
    assert positions == list(range(head + 1, head + 11))


async def test_a_unit_failing_after_it_wrote_is_redone_without(runtime):
    """Another node added `f` as a String; this node does not know yet and writes a Number."""
    await runtime.write([Create("Mix", {"a": Op("Set", 1)})], MASTER)
    await runtime.gateway.execute(
        "INSERT INTO parsnip_schema (class_name, field, type) VALUES ('Mix', 'f', '{\"type\": \"String\"}')")
    units = [[Create("Mix", {"a": Op("Set", i)})] for i in range(10)]
    units.insert(5, [Create("Mix", {"f": Op("Set", 5)})])
    outcomes = await _run_all(runtime, units)
    assert isinstance(outcomes[5], ParseError) and outcomes[5].code == 111
    assert all(not isinstance(o, ParseError) for i, o in enumerate(outcomes) if i != 5)
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Mix"') == 11
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Mix" WHERE data ? \'f\'') == 0


@pytest.mark.parametrize("size", [1, 5, 40])
async def test_results_match_their_commands(runtime, size):
    outcomes = await _run_all(runtime, [[Create("Echo", {"i": Op("Set", i)})] for i in range(size)])
    for i, [result] in enumerate(outcomes):
        assert result.fields == {"i": i}
        text = await runtime.gateway.fetchval('SELECT data->>\'i\' FROM "p_Echo" WHERE object_id = $1', result.object_id)
        assert text == str(i)


async def test_class_creation_needs_the_master_key_when_clients_may_not_create(runtime):
    runtime.writer.policy.allow_client_class_creation = False
    client = Context(master=False)
    with pytest.raises(ParseError) as err:
        await runtime.write([Create("Locked", {"a": Op("Set", 1)})], client)
    assert err.value.code == ParseError.OPERATION_FORBIDDEN
    assert "non-existent class: Locked" in err.value.message
    assert not runtime.schema.has_class("Locked")
    await runtime.write([Create("Locked", {"a": Op("Set", 1)})], MASTER)
    # Once the class exists, clients write to it and may add fields.
    await runtime.write([Create("Locked", {"a": Op("Set", 2), "b": Op("Set", "x")})], client)
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Locked"') == 2


async def test_a_unit_meeting_a_bug_fails_alone_with_code_1(runtime):
    """An exception that is not a Parse or PostgreSQL error (here an Increment by a string,
    which parsing would have refused) fails its own unit, never the units sharing its batch."""
    [seed] = await runtime.write([Create("Bug", {"n": Op("Set", 1)})], MASTER)
    bad = Update("Bug", seed.object_id, {"n": Op("Increment", "x")})
    units = []
    for i in range(12):
        if i % 4 == 0:
            units.append([bad])  # fails before it writes
        elif i % 4 == 1:  # fails after its first command wrote
            units.append([Create("Bug", {"n": Op("Set", 100 + i)}), bad])
        else:
            units.append([Create("Bug", {"n": Op("Set", 100 + i)})])
    outcomes = await _run_all(runtime, units)
    assert [o.code for o in outcomes if isinstance(o, ParseError)] == [1] * 6
    rows = await runtime.gateway.fetch('SELECT (data->>\'n\')::int AS n FROM "p_Bug" ORDER BY 1')
    assert [r["n"] for r in rows] == [1] + [100 + i for i in range(12) if i % 4 >= 2]


async def test_creates_sharing_a_batch_go_in_together_and_a_unique_clash_fails_only_its_unit(runtime):
    """Plain creates in one batch insert their rows with one statement (Writer._insert_deferred);
    when that statement breaks a unique index, which create did is found by running each alone:
    the clashing one fails (137), every other one is stored, with its event and history."""
    await runtime.write([Create("Uniq", {"code": Op("Set", "seed")})], MASTER)
    await runtime.gateway.execute('CREATE UNIQUE INDEX "Uniq_code" ON "p_Uniq" ((data->>\'code\'))')
    head = await runtime.read(event_log.head)
    units = [[Create("Uniq", {"code": Op("Set", "seed" if i == 7 else f"c{i}")})] for i in range(40)]
    outcomes = await _run_all(runtime, units)
    errors = [o for o in outcomes if isinstance(o, ParseError)]
    assert [e.code for e in errors] == [137] and outcomes[7] is errors[0]
    stored = {r[0] for r in await runtime.gateway.fetch('SELECT data->>\'code\' FROM "p_Uniq"')}
    assert stored == {"seed"} | {f"c{i}" for i in range(40) if i != 7}
    logged = await runtime.gateway.fetchval("SELECT count(*) FROM parsnip_events WHERE position > $1", head)
    history = await runtime.gateway.fetchval('SELECT count(*) FROM "h_Uniq"')
    assert (logged, history) == (39, 40)


async def test_each_write_statement_is_planned_for_its_values(runtime):
    """A class's tables start empty and autovacuum analyzes them a minute or more later. A plan
    PostgreSQL made for all values (it may, after five runs of a prepared statement) while a
    table was tiny scans it whole however it grows: the writer's statements never use one."""
    writes = 8 * runtime.gateway.pool.get_max_size()  # past five runs on every pooled connection
    for i in range(writes):
        await runtime.write([Create("Grow", {"n": Op("Set", i)})], MASTER)

    async def plans_on_idle_connections() -> list:
        pool, held, rows = runtime.gateway.pool, [], []
        try:
            while True:
                try:
                    held.append(await pool.acquire(timeout=0.2))
                except TimeoutError:
                    break
            for conn in held:
                rows += await conn.fetch(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement NOT LIKE"
                    " '%pg_prepared_statements%' AND (statement LIKE '%parsnip_append%'"
                    " OR statement LIKE 'INSERT INTO \"p_Grow\"%')")
        finally:
            for conn in held:
                await pool.release(conn)
        return rows

    rows = await runtime.gateway.call(plans_on_idle_connections)
    assert sum(r["custom_plans"] for r in rows) >= writes, rows
    assert all(r["generic_plans"] == 0 for r in rows), rows
