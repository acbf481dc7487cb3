"""A node survives its database: the gateway, the writer and the log follower against a private
PostgreSQL that the tests stop and start (tests/pg_private.py), and behind a proxy that fails the
way networks do (tests/fault_proxy.py). Never the machine's PostgreSQL.

- while the database is down every call fails at once with `DatabaseUnavailable`; it recovers
  by itself when the database is back, the follower LISTENing again;
- a silent network is detected and the calls under way are cut short, not left hanging;
- a COMMIT whose answer is lost is settled by asking the database; if it cannot answer in time
  the caller is told the outcome is unknown, and the log's copy reaches the bus;
- under concurrent writes across a restart every write is answered promptly, every
  acknowledged one is in the log, every one answered 503 is not, positions stay dense and the
  bus delivers every committed position in order.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import asyncpg
import pytest
import trio

from parsnip.api.runtime import RuntimeFailed, open_runtime
from parsnip.core.commands import Create
from parsnip.core.config import Config
from parsnip.core.db.gateway import Gateway
from parsnip.core.errors import DatabaseUnavailable, OutcomeUnknown
from parsnip.core.events import CREATE, Context
from parsnip.core.operations import Op
from tests.fault_proxy import FaultProxy
from tests.pg_private import PrivatePostgres

MASTER = Context(master=True)
CONFIG = Config(appId="t", masterKey="m")


@pytest.fixture(scope="module")
def pg():
    server = PrivatePostgres()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def dsn(pg):
    """A fresh database in the private PostgreSQL, which is running when the test starts."""
    if not pg.running():
        pg.start()
    name = "outage_" + secrets.token_hex(4)

    async def create() -> None:
        conn = await asyncpg.connect(pg.dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return pg.dsn(name)


async def _proxy(nursery: trio.Nursery, pg: PrivatePostgres) -> FaultProxy:
    proxy = FaultProxy(pg.port)
    await nursery.start(proxy.run)
    return proxy


def _database(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


async def _until(predicate, timeout: float, step: float = 0.02) -> float:
    """Wait until `predicate()` holds; returns how long it took."""
    start = time.monotonic()
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(step)
    return time.monotonic() - start


async def _log(dsn: str) -> list[tuple[int, str | None, object]]:
    """(position, objectId, the create's `tag`) of every event, read directly."""

    async def read():
        conn = await asyncpg.connect(dsn)
        try:
            from parsnip.core import log as event_log

            events = await event_log.read_after(conn, 0, 100_000)
            return [(e.position, e.object_id, e.payload.get("set", {}).get("tag")) for e in events]
        finally:
            await conn.close()

    return await trio.to_thread.run_sync(lambda: asyncio.run(read()))


def _create(tag: str) -> list:
    return [Create("Outage", {"tag": Op("Set", tag)})]


async def test_the_gateway_fails_fast_while_the_database_is_down_and_recovers(pg, dsn):
    async with Gateway(dsn) as gw:
        assert await gw.fetchval("SELECT 1") == 1 and gw.up
        await trio.to_thread.run_sync(pg.stop)
        await _until(lambda: not gw.up, 2)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as info:
            await gw.fetchval("SELECT 1")
        assert time.monotonic() - started < 0.5
        assert info.value.code == 100
        await trio.to_thread.run_sync(pg.start)
        with trio.fail_after(3):
            await gw.wait_up()
        assert await gw.fetchval("SELECT 1") == 1
        assert gw.monitor.outages == 1
        assert gw.pool_stats()["max"] == 10


async def test_a_silent_network_is_detected_and_calls_under_way_are_cut_short(pg, dsn):
    async with trio.open_nursery() as nursery:
        proxy = await _proxy(nursery, pg)
        async with Gateway(proxy.dsn(_database(dsn)), connect_timeout=0.5, interval=0.2,
                           ping_timeout=0.5, retry=0.1) as gw:
            assert await gw.fetchval("SELECT 1") == 1
            proxy.freeze()
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await gw.fetchval("SELECT 2")  # its bytes never come back
            assert time.monotonic() - started < 3
            assert not gw.up
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await gw.fetchval("SELECT 3")
            assert time.monotonic() - started < 0.1  # known down: no wait at all
            proxy.heal()
            with trio.fail_after(5):
                await gw.wait_up()
            assert await gw.fetchval("SELECT 4") == 4
        nursery.cancel_scope.cancel()


async def test_the_runtime_rides_out_a_restart_and_follows_again(pg, dsn):
    async with open_runtime(CONFIG, dsn) as a:
        seen = a.bus.subscribe()
        for i in range(3):
            await a.write(_create(f"before{i}"), MASTER)
        assert a.follower.listening
        await trio.to_thread.run_sync(pg.stop)
        await _until(lambda: not a.database_up, 2)
        for call in (lambda: a.write(_create("during"), MASTER), lambda: a.has_class("Nope")):
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await call()
            assert time.monotonic() - started < 0.5
        await trio.to_thread.run_sync(pg.start)
        started = time.monotonic()
        while True:  # as a client would: retry until a write is accepted
            try:
                await a.write(_create("after"), MASTER)
                break
            except DatabaseUnavailable:
                assert time.monotonic() - started < 5
                await trio.sleep(0.05)
        await _until(lambda: a.follower.listening and a.follower.recoveries == 1, 5)
        # Another node's commit reaches this node's bus through the log again.
        async with open_runtime(CONFIG, dsn) as b:
            await b.write(_create("from b"), MASTER)
        got = []
        with trio.fail_after(5):
            while not got or got[-1].payload.get("set", {}).get("tag") != "from b":
                got.append(await seen.receive())
        positions = [e.position for e in got]
        assert positions == list(range(1, len(positions) + 1))
        tags = [e.payload["set"]["tag"] for e in got if e.kind == CREATE]
        assert tags == ["before0", "before1", "before2", "after", "from b"]


async def test_a_commit_whose_answer_is_lost_is_settled_by_asking_the_database(pg, dsn):
    async with trio.open_nursery() as nursery:
        proxy = await _proxy(nursery, pg)
        async with open_runtime(CONFIG, proxy.dsn(_database(dsn))) as rt:
            seen = rt.bus.subscribe()
            await rt.write(_create("first"), MASTER)
            proxy.on_next_commit("after")  # the server commits; the answer never comes
            [result] = await rt.write(_create("lost answer"), MASTER)
            proxy.on_next_commit("before")  # the server never sees COMMIT: rolled back
            [again] = await rt.write(_create("lost commit"), MASTER)
            assert proxy.commits_cut == 2
            assert rt.writer.outcomes_settled == 2 and rt.writer.outcomes_unknown == 0
            log = await _log(dsn)
            assert [tag for _, _, tag in log if tag] == ["first", "lost answer", "lost commit"]
            assert {result.object_id, again.object_id} <= {oid for _, oid, _ in log}
            assert [p for p, _, _ in log] == list(range(1, len(log) + 1))
            got = []
            with trio.fail_after(5):
                while len(got) < len(log):
                    got.append(await seen.receive())
            assert [e.position for e in got] == [p for p, _, _ in log]
        nursery.cancel_scope.cancel()


async def test_an_outcome_the_database_cannot_tell_in_time_is_answered_unknown_and_followed(pg, dsn):
    async with trio.open_nursery() as nursery:
        proxy = await _proxy(nursery, pg)
        async with open_runtime(CONFIG, proxy.dsn(_database(dsn))) as rt:
            seen = rt.bus.subscribe()
            rt.writer.outcome_wait = 0.5
            await rt.write(_create("first"), MASTER)
            proxy.on_next_commit("after", then_refuse=True)  # and the database is away a while
            started = time.monotonic()
            with pytest.raises(OutcomeUnknown) as info:
                await rt.write(_create("unknown"), MASTER)
            assert time.monotonic() - started < 3
            assert info.value.code == 124
            assert rt.writer.outcomes_unknown == 1
            await _until(lambda: not rt.database_up, 3)
            proxy.heal()
            # It did commit: the follower brings the log's copy to the bus, in order.
            got = []
            with trio.fail_after(10):
                while len(got) < 3:
                    got.append(await seen.receive())
            assert [e.position for e in got] == [1, 2, 3]
            assert [e.payload["set"]["tag"] for e in got if e.kind == CREATE] == ["first", "unknown"]
        nursery.cancel_scope.cancel()


async def test_writes_across_a_restart_are_all_answered_and_none_is_lost(pg, dsn):
    answers: dict[str, str] = {}
    latencies: list[float] = []
    stop = trio.Event()
    async with open_runtime(CONFIG, dsn) as rt:
        seen = rt.bus.subscribe()

        async def writer(w: int) -> None:
            i = 0
            while not stop.is_set():
                tag = f"{w}-{i}"
                i += 1
                started = time.monotonic()
                try:
                    await rt.write(_create(tag), MASTER)
                    answers[tag] = "ok"
                except DatabaseUnavailable:
                    answers[tag] = "503"
                except OutcomeUnknown:
                    answers[tag] = "unknown"
                latencies.append(time.monotonic() - started)
                await trio.sleep(0.01 if answers[tag] == "ok" else 0.05)

        async with trio.open_nursery() as nursery:
            for w in range(8):
                nursery.start_soon(writer, w)
            await trio.sleep(0.7)
            await trio.to_thread.run_sync(pg.stop)
            await trio.sleep(1.5)
            await trio.to_thread.run_sync(pg.start)
            restarted = time.monotonic()
            before = sum(1 for a in answers.values() if a == "ok")
            await _until(lambda: sum(1 for a in answers.values() if a == "ok") > before, 10)
            recovery = time.monotonic() - restarted
            await trio.sleep(0.5)
            stop.set()

        log = await _log(dsn)
        logged = {tag for _, _, tag in log if tag}
        ok = {t for t, a in answers.items() if a == "ok"}
        refused = {t for t, a in answers.items() if a == "503"}
        assert ok and refused, answers
        assert ok <= logged  # every acknowledged write is in the log
        assert not (refused & logged)  # a write answered 503 was not written
        assert [p for p, _, _ in log] == list(range(1, len(log) + 1))
        assert max(latencies) < 5
        assert recovery < 5
        # The bus delivered every committed position, in order.
        got = []
        with trio.fail_after(10):
            while len(got) < len(log):
                got.append(await seen.receive())
        assert [e.position for e in got] == [p for p, _, _ in log]


async def test_a_background_task_that_fails_ends_the_runtime_and_says_so(pg, dsn):
    failures: list[BaseException] = []
    with pytest.raises(BaseException) as info:
        async with open_runtime(CONFIG, dsn, on_failure=failures.append) as rt:
            async def broken() -> None:
                raise ValueError("a bug in the follower")

            rt.follower.catch_up = broken  # not an outage: nothing to ride out
            await rt.write(_create("wakes the follower"), MASTER)
            await trio.sleep(5)  # cancelled when the follower fails
            pytest.fail("the runtime went on without its follower")
    assert [type(f) for f in failures] == [RuntimeFailed]
    assert "log follower" in str(failures[0])
    assert isinstance(info.value, (RuntimeFailed, BaseExceptionGroup))


async def test_a_database_that_comes_back_without_events_this_node_delivered_stops_it():
    """A failover to a replica that lagged: the positions this node delivered would be reused
    and the new events skipped. The node must stop and say why, not go on silently."""
    pg = PrivatePostgres()
    try:
        pg.start()
        failures: list[BaseException] = []
        with pytest.raises(BaseException):
            async with open_runtime(CONFIG, pg.dsn(), on_failure=failures.append) as rt:
                await rt.write(_create("kept"), MASTER)
                await trio.to_thread.run_sync(pg.stop)
                await trio.to_thread.run_sync(pg.snapshot)
                await trio.to_thread.run_sync(pg.start)
                await _until(lambda: rt.follower.recoveries == 1, 10)
                await rt.write(_create("lost"), MASTER)
                await rt.write(_create("lost too"), MASTER)
                await trio.to_thread.run_sync(pg.stop)
                await trio.to_thread.run_sync(pg.restore)
                await trio.to_thread.run_sync(pg.start)
                await trio.sleep(10)  # cancelled when the follower finds the log shorter
                pytest.fail("the node went on with a log that lost events it had delivered")
        assert [type(f) for f in failures] == [RuntimeFailed]
        assert "LogRewound" in str(failures[0]) and "delivered up to 4" in str(failures[0])
    finally:
        pg.destroy()
