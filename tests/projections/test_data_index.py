"""The containment (GIN) index on each class's documents, live and history, takes an insert's
keys at once: with GIN's fast update they would wait in a pending list that every index scan
reads whole, which made a client's equality query five times dearer in PostgreSQL while writes
went on (benchmarks/README.md, "Issue 15")."""

from __future__ import annotations

from parsnip.api.runtime import open_runtime
from parsnip.core.commands import Create
from parsnip.core.config import Config
from parsnip.core.events import Context
from parsnip.core.operations import Op

MASTER = Context(master=True)
_OPTIONS = "SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[])"
_INDEXES = ["p_Gin_data", "h_Gin_data"]


async def _options(rt) -> dict[str, list[str] | None]:
    return {r["relname"]: r["reloptions"] for r in await rt.gateway.fetch(_OPTIONS, _INDEXES)}


async def test_a_new_class_indexes_its_documents_without_a_pending_list(runtime):
    await runtime.write([Create("Gin", {"room": Op("Set", "r1")})], MASTER)
    assert await _options(runtime) == {name: ["fastupdate=off"] for name in _INDEXES}


async def test_a_database_from_before_loses_its_pending_lists_when_parsnip_starts(runtime, fresh_dsn):
    await runtime.write([Create("Gin", {"room": Op("Set", "r1")})], MASTER)
    for name in _INDEXES:  # as Parsnip made them before
        await runtime.gateway.execute(f'ALTER INDEX "{name}" RESET (fastupdate)')
    await runtime.write([Create("Gin", {"room": Op("Set", f"r{i}")}) for i in range(50)], MASTER)
    assert await _options(runtime) == {name: None for name in _INDEXES}

    async with open_runtime(Config(appId="test", masterKey="test-master"), fresh_dsn) as again:
        assert await _options(again) == {name: ["fastupdate=off"] for name in _INDEXES}
        found = await again.gateway.fetch("""SELECT count(*) FROM "p_Gin" WHERE data @> '{"room": "r7"}'""")
        assert found[0][0] == 1
