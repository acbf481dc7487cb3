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


async def test_a_task_that_swallows_a_cancellation_is_still_stopped(fresh_dsn):
    """Before Python 3.12 `asyncio.wait_for` can swallow a cancellation (the monitor's ping);
    the gateway's exit must stop such a task all the same, or `parsnip verify` hangs on exit."""
    import asyncio

    from parsnip.core.db.gateway import _cancel_and_wait

    async def stubborn() -> None:
        swallowed = 0
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise

    async def run() -> bool:
        task = asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(_cancel_and_wait(task), 5)
        return task.cancelled()

    async with Gateway(fresh_dsn) as gw:
        with trio.fail_after(10):
            assert await gw.call_steady(run) is True
