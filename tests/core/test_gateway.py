"""The trio-facing gateway to asyncpg: results, errors, cancellation and shutdown."""

from __future__ import annotations

import asyncpg
import pytest
import trio

from parsnip.core.db.gateway import Gateway


async def test_results_and_errors_cross_the_bridge(fresh_dsn):
    async with Gateway(fresh_dsn) as gw:
        assert await gw.fetchval("SELECT $1::int + 1", 41) == 42
        with pytest.raises(asyncpg.exceptions.UndefinedTableError):
            await gw.fetch("SELECT * FROM no_such_table")


async def test_cancelling_a_query_stops_it_in_postgres(fresh_dsn):
    async with Gateway(fresh_dsn, max_size=2) as gw:
        with trio.move_on_after(0.2) as scope:
            await gw.fetch("SELECT pg_sleep(30)")
        assert scope.cancelled_caught
        # The server-side query was cancelled, not left running, and the pool still works.
        with trio.fail_after(5):
            while await gw.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"):
                await trio.sleep(0.05)
        assert await gw.fetchval("SELECT 1") == 1


async def test_concurrent_calls_share_the_pool(fresh_dsn):
    async with Gateway(fresh_dsn, max_size=4) as gw:
        results = []

        async def one(i: int) -> None:
            results.append(await gw.fetchval("SELECT $1::int", i))

        async with trio.open_nursery() as nursery:
            for i in range(50):
                nursery.start_soon(one, i)
        assert sorted(results) == list(range(50))


async def test_shutdown_closes_the_pool_and_stops_the_loop(fresh_dsn):
    gw = Gateway(fresh_dsn)
    async with gw:
        thread = gw._thread
        assert await gw.fetchval("SELECT 1") == 1
    assert gw.pool is None and gw.loop is None
    assert thread is not None and not thread.is_alive()
    with pytest.raises(RuntimeError):
        await gw.fetchval("SELECT 1")
