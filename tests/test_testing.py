"""`parsnip.testing`, used exactly as a Parse developer would in their own pytest suite: a cloud
module file, its functions called with and without a session, a before_save that refuses (and
one that changes what is stored), an after_save whose effect is there when `save` returns, on a
real PostgreSQL database of the test's own that is dropped afterwards."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import datetime, timezone

import asyncpg
import pytest
import trio

from parsnip.cloud import Cloud
from parsnip.testing import CloudTest, ParseError, SyncCloudTest

MAIN = textwrap.dedent('''
    from parsnip.cloud import Cloud, ParseError

    cloud = Cloud()

    @cloud.define("hello")
    async def hello(req):
        return "Hello world!"

    @cloud.define("nextYear")
    def next_year(req):  # a plain def: a worker thread
        d = req.params["when"]
        return {"next": d.replace(year=d.year + 1), "kind": type(d).__name__}

    @cloud.define("whoami", require_user=True)
    async def whoami(req):
        return {"user": req.user_id, "master": req.master, "context": req.context}

    @cloud.define("fails")
    async def fails(req):
        raise ValueError("no luck")

    @cloud.before_save("Review")
    async def check(req):
        if not 1 <= req.object.get("stars", 0) <= 5:
            raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
        req.object.set("comment", (req.object.get("comment") or "").strip())

    @cloud.after_save("Review")
    async def audit(req):
        AUDIT.append((req.object.id, "update" if req.original is not None else "create"))

    AUDIT = []

    @cloud.define("audit")
    async def audit_log(req):
        return AUDIT
''')


@pytest.fixture
def main_py(tmp_path):
    path = tmp_path / "main.py"
    path.write_text(MAIN)
    return str(path)


async def test_functions_answer_as_parse_cloud_run_does(main_py, admin_dsn):
    async with CloudTest(cloud=main_py, database_url=admin_dsn) as t:
        assert await t.run("hello") == "Hello world!"
        when = datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
        assert await t.run("nextYear", {"when": when}) == {"next": when.replace(year=2025), "kind": "datetime"}
        with pytest.raises(ParseError) as failed:
            await t.run("fails")
        assert (failed.value.code, failed.value.message) == (141, "no luck")
        with pytest.raises(ParseError) as unknown:
            await t.run("nope")
        assert (unknown.value.code, unknown.value.message) == (141, 'Invalid function: "nope"')


async def test_sessions_master_and_context_reach_the_function(main_py, admin_dsn):
    async with CloudTest(cloud=main_py, database_url=admin_dsn) as t:
        with pytest.raises(ParseError) as refused:
            await t.run("whoami")
        assert (refused.value.code, refused.value.message) == (142, "Validation failed. Please login to continue.")
        ada = await t.signup("ada", "lovelace1", email="ada@example.com")
        me = await t.run("whoami", session_token=ada["sessionToken"], context={"from": "test"})
        assert me == {"user": ada["objectId"], "master": False, "context": {"from": "test"}}
        again = await t.login("ada", "lovelace1")
        assert (again["objectId"], again["username"]) == (ada["objectId"], "ada")
        with pytest.raises(ParseError) as bad:
            await t.run("whoami", session_token="r:not-a-session")
        assert bad.value.code == ParseError.INVALID_SESSION_TOKEN


@pytest.mark.parametrize("stars", [0, 6, None])
async def test_a_before_save_refusal_raises_its_parse_error_and_stores_nothing(main_py, admin_dsn, stars):
    async with CloudTest(cloud=main_py, database_url=admin_dsn) as t:
        with pytest.raises(ParseError) as refused:
            await t.save("Review", {"comment": "meh"} if stars is None else {"stars": stars})
        assert (refused.value.code, refused.value.message) == (142, "stars must be between 1 and 5")
        assert await t.find("Review", master=True) == []


async def test_what_a_before_save_changes_is_stored_and_the_after_save_has_run(main_py, admin_dsn):
    async with CloudTest(cloud=main_py, database_url=admin_dsn) as t:
        review = await t.save("Review", {"stars": 4, "comment": "  good  "})
        assert (review["stars"], review["comment"]) == (4, "good")
        updated = await t.save("Review", {"stars": 5}, object_id=review["objectId"])
        assert (updated["stars"], updated["comment"]) == (5, "good")
        assert await t.run("audit") == [[review["objectId"], "create"], [review["objectId"], "update"]]
        assert [r["objectId"] for r in await t.find("Review", {"stars": {"$gte": 5}})] == [review["objectId"]]
        await t.delete("Review", review["objectId"])
        with pytest.raises(ParseError) as gone:
            await t.get("Review", review["objectId"])
        assert gone.value.code == ParseError.OBJECT_NOT_FOUND


async def test_each_test_gets_an_empty_database_dropped_at_the_end(admin_dsn):
    cloud = Cloud()  # a Cloud built in the test is fine too

    @cloud.define("count")
    async def count(req):
        return "ok"

    async with CloudTest(cloud=cloud, database_url=admin_dsn) as first:
        await first.save("Thing", {"n": 1})
        name = first.runtime.gateway.dsn.rsplit("/", 1)[1]
        async with CloudTest(cloud=cloud, database_url=admin_dsn) as second:
            assert await second.find("Thing") == []
            assert await second.run("count") == "ok"
    assert await trio.to_thread.run_sync(databases_named, admin_dsn, name) == 0


def databases_named(dsn: str, name: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        finally:
            await conn.close()

    return asyncio.run(count())


def test_the_sync_facade_for_plain_tests(main_py, admin_dsn):
    with SyncCloudTest(cloud=main_py, database_url=admin_dsn) as t:
        assert t.run("hello") == "Hello world!"
        with pytest.raises(ParseError) as refused:
            t.save("Review", {"stars": 9})
        assert refused.value.code == ParseError.VALIDATION_ERROR
        assert t.save("Review", {"stars": 3, "comment": " ok "})["comment"] == "ok"


async def test_without_a_database_url_an_embedded_postgresql_serves(monkeypatch):
    monkeypatch.delenv("PARSNIP_TEST_DATABASE_URI", raising=False)
    cloud = Cloud()

    @cloud.before_save("Note")
    async def stamp(req):
        req.object.set("seen", True)

    async with CloudTest(cloud=cloud) as t:
        assert (await t.save("Note", {"text": "hi"}))["seen"] is True
