"""Restores in the group-committing writer: planned in the transaction against the data as it
stands, never against history an earlier unit of the same batch has not recorded yet."""

from __future__ import annotations

import pytest

from parsnip.core import log as event_log
from parsnip.core.commands import Create, Delete, Restore, Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.security.auth import NOBODY
from tests.core.test_writer import _run_all
from tests.projections.test_rebuild import _rebuild_and_compare

MASTER = Context(master=True)


async def test_restores_sharing_batches_with_deletes_and_updates_all_commit_consistently(runtime):
    ids = [r.object_id for r in await runtime.write([Create("Pile", {"n": Op("Set", i)}) for i in range(8)], MASTER)]
    units = []
    for i, oid in enumerate(ids):  # each object: deleted, restored, changed, restored again, at once
        units += [[Delete("Pile", oid)], [Restore("Pile", oid, version=1)],
                  [Update("Pile", oid, {"n": Op("Increment", 100)})], [Restore("Pile", oid, version=1)]]
    outcomes = await _run_all(runtime, units)
    # Whatever order they met in, only "not found" (an update or delete of a deleted object) may fail.
    assert {e.code for e in outcomes if isinstance(e, ParseError)} <= {101}
    assert any(not isinstance(o, ParseError) for o in outcomes[1::4])
    # The versions go on without a gap, the live rows hold the last, and a replay gives the same tables.
    rows = await runtime.gateway.fetch(
        "SELECT object_id, array_agg(version ORDER BY position) AS v FROM parsnip_events"
        " WHERE class_name = 'Pile' AND object_id IS NOT NULL GROUP BY 1")
    assert all(list(r["v"]) == list(range(1, len(r["v"]) + 1)) for r in rows)
    live = await runtime.gateway.fetch('SELECT object_id, version FROM "p_Pile"')
    assert all(v == max(dict((r["object_id"], r["v"]) for r in rows)[oid]) for oid, v in live)

    before, after, _ = await _rebuild_and_compare(runtime)
    assert after == before


async def test_the_writer_refuses_a_restore_without_the_master_key(runtime):
    [made] = await runtime.write([Create("Pile", {"n": Op("Set", 1)})], MASTER)
    head = await runtime.read(event_log.head)
    with pytest.raises(ParseError) as refused:
        await runtime.write([Restore("Pile", made.object_id, version=1)], Context(), NOBODY)
    assert refused.value.code == ParseError.OPERATION_FORBIDDEN
    assert await runtime.read(event_log.head) == head
