"""The log's hash chain (core/chain.py) against a real PostgreSQL: every event links to the real
previous one across group commits, several nodes on one database and restarts; a log from
before the chain is chained once at start; the append-only trigger lets through exactly the
chain's fill-in and an erasure's blanking, nothing else."""

from __future__ import annotations

import hashlib
import struct

import asyncpg
import pytest
import trio
from hypothesis import given, strategies as st

from parsnip.api.runtime import open_runtime
from parsnip.core import chain, verify as chain_verify
from parsnip.core.commands import Create, Update
from parsnip.core.config import Config
from parsnip.core.events import Context
from parsnip.core.operations import Op

CONFIG = Config(appId="t", masterKey="m")
MASTER = Context(master=True)


async def _verdict(rt) -> chain_verify.Verdict:
    return await rt.read(chain_verify.verify)


async def _creates(rt, n: int, cls: str = "Item") -> None:
    async with trio.open_nursery() as nursery:  # concurrent: the writer takes them in group commits
        for i in range(n):
            nursery.start_soon(rt.write, [Create(cls, {"n": Op("Set", i)})], MASTER)


async def test_the_chain_links_every_event_across_group_commits(runtime):
    await runtime.write([Create("Item", {"n": Op("Set", -1)})], MASTER)
    await _creates(runtime, 60)
    rows = await runtime.gateway.fetch("SELECT position, hash FROM parsnip_events ORDER BY position")
    verdict = await _verdict(runtime)
    assert verdict.ok and verdict.checked == len(rows) == 62 and verdict.broken_at is None
    head = await runtime.gateway.fetchrow("SELECT position, hash FROM parsnip_log_head")
    assert (verdict.head_position, verdict.head_hash) == (head["position"], head["hash"].hex()) == (62, rows[-1]["hash"].hex())
    # More than one commit took several events: the chain crosses group commits.
    xmins = await runtime.gateway.fetch("SELECT xmin::text, count(*) FROM parsnip_events GROUP BY 1")
    assert any(r[1] > 1 for r in xmins) and len(xmins) > 1


async def test_the_encoding_is_the_documented_one(runtime):
    """An auditor recomputes the first event's hash from its columns with hashlib alone."""
    await runtime.write([Create("Item", {"n": Op("Set", 1)})], Context(master=True, request_id="r1", client_ip="1.2.3.4"))
    r = await runtime.gateway.fetchrow(
        "SELECT position, kind, class_name, object_id, version,"
        " (extract(epoch from at) * 1000000)::bigint AS us, user_id, session_id, installation_id, master,"
        " request_id, client_ip, payload, payload_digest, hash FROM parsnip_events WHERE position = 2")

    def field(value) -> bytes:
        if value is None:
            return b"\x00"
        data = value if isinstance(value, bytes) else (("true" if value else "false") if isinstance(value, bool) else str(value)).encode()
        return b"\x01" + struct.pack(">I", len(data)) + data

    first = await runtime.gateway.fetchval("SELECT hash FROM parsnip_events WHERE position = 1")
    digest = hashlib.sha256(r["payload"]).digest()
    columns = [r["position"], r["kind"], r["class_name"], r["object_id"], r["version"], r["us"], r["user_id"],
               r["session_id"], r["installation_id"], r["master"], r["request_id"], r["client_ip"], digest]
    assert r["payload_digest"] == digest
    assert hashlib.sha256(first + b"".join(field(c) for c in columns)).digest() == r["hash"]


async def test_two_nodes_on_one_database_share_one_chain(fresh_dsn):
    async with open_runtime(CONFIG, fresh_dsn) as a, open_runtime(CONFIG, fresh_dsn) as b:
        await a.write([Create("Item", {"n": Op("Set", 0)})], MASTER)
        b.schema.load([("Item", "n", {"type": "Number"})])
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_creates, a, 40)
            nursery.start_soon(_creates, b, 40)
        verdict = await _verdict(b)
    assert verdict.ok and verdict.checked == 82


async def test_the_chain_goes_on_after_a_restart(fresh_dsn):
    async with open_runtime(CONFIG, fresh_dsn) as rt:
        [r] = await rt.write([Create("Item", {"n": Op("Set", 0)})], MASTER)
    async with open_runtime(CONFIG, fresh_dsn) as rt:
        await rt.write([Update("Item", r.object_id, {"n": Op("Increment", 2)})], MASTER)
        verdict = await _verdict(rt)
    assert verdict.ok and verdict.checked == 3


async def _superuser(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_log_from_before_the_chain_is_chained_once_at_start(fresh_dsn):
    async with open_runtime(CONFIG, fresh_dsn) as rt:
        await _creates(rt, 10)
    # As a log written before the chain existed: no digests, no hashes, no head hash.
    await trio.to_thread.run_sync(lambda: __import__("asyncio").run(_superuser(
        fresh_dsn, "ALTER TABLE parsnip_events DISABLE TRIGGER USER",
        "UPDATE parsnip_events SET hash = NULL, payload_digest = NULL", "UPDATE parsnip_log_head SET hash = NULL",
        "ALTER TABLE parsnip_events ENABLE TRIGGER USER")))
    async with open_runtime(CONFIG, fresh_dsn) as rt:
        await _creates(rt, 5)
        verdict = await _verdict(rt)
    assert verdict.ok and verdict.checked == 16


@pytest.mark.parametrize("sql", [
    "UPDATE parsnip_events SET payload = ''::bytea, erased_by = 99 WHERE position = 2",  # no token
    "SELECT set_config('parsnip.erase', '99', false); UPDATE parsnip_events SET payload = '\\x80'::bytea, erased_by = 99 WHERE position = 2",
    "SELECT set_config('parsnip.erase', '99', false); UPDATE parsnip_events SET payload = ''::bytea, erased_by = 99, user_id = 'x' WHERE position = 2",
    "SELECT set_config('parsnip.erase', '98', false); UPDATE parsnip_events SET payload = ''::bytea, erased_by = 99 WHERE position = 2",
    "UPDATE parsnip_events SET hash = '\\x00'::bytea WHERE position = 2",  # a chained event's hash is final
    "UPDATE parsnip_events SET payload_digest = '\\x00'::bytea WHERE position = 2",
])
async def test_the_log_still_refuses_every_other_change(runtime, fresh_dsn, sql):
    await runtime.write([Create("Item", {"n": Op("Set", 1)})], MASTER)

    async def attempt():
        conn = await asyncpg.connect(fresh_dsn)
        try:
            async with conn.transaction():
                await conn.execute(sql)
        finally:
            await conn.close()

    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="append-only"):
        await trio.to_thread.run_sync(lambda: __import__("asyncio").run(attempt()))
    assert (await _verdict(runtime)).ok


_FIELD = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=8), st.binary(max_size=8))


@given(st.lists(_FIELD, min_size=13, max_size=13), st.lists(_FIELD, min_size=13, max_size=13))
def test_different_columns_never_encode_alike(a, b):
    """The encoding is injective per field kind: two events with different columns hash differently."""
    if [chain.canonical([x]) for x in a] != [chain.canonical([y]) for y in b]:
        assert chain.canonical(a) != chain.canonical(b)
