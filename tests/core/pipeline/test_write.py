"""The write pipeline's hooks, registered through the internal registry, against a real database."""

from __future__ import annotations

import logging

import pytest
import trio

from parsnip.core import log as event_log
from parsnip.core.commands import Create, Delete, Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.security.auth import Auth
from parsnip.projections.rebuild import fingerprint, rebuild

MASTER = Context(master=True)


async def _stored(rt, class_name: str, object_id: str) -> dict | None:
    return await rt.load_object(class_name, object_id)


async def _last_event(rt):
    head = await rt.read(event_log.head)
    [ev] = await rt.read(event_log.read_after, head - 1, 1)
    return ev


async def test_before_save_sees_the_object_as_it_will_be(runtime):
    [made] = await runtime.write([Create("Box", {"n": Op("Set", 1), "tags": Op("Set", ["a"]),
                                                 "gone": Op("Set", True)})], MASTER)
    seen = []

    @runtime.hooks.before_save("Box")
    async def look(req):
        seen.append((req.is_create, dict(req.object), dict(req.original)))

    await runtime.write([Update("Box", made.object_id, {"n": Op("Increment", 2), "tags": Op("Add", ["b"]),
                                                        "gone": Op("Delete")})], MASTER)
    [(is_create, obj, original)] = seen
    assert not is_create
    assert obj == {"n": 3, "tags": ["a", "b"]}
    assert original == {"n": 1, "tags": ["a"], "gone": True}


async def test_a_hooks_change_is_written_and_recorded_as_the_final_ops(runtime):
    @runtime.hooks.before_save("Review")
    async def tidy(req):
        req.object["comment"] = req.object["comment"].strip()
        req.object["checked"] = True
        del req.object["draft"]

    [made] = await runtime.write([Create("Review", {"comment": Op("Set", "  fine  "), "stars": Op("Set", 4),
                                                    "draft": Op("Set", "x")})], MASTER)
    assert await _stored(runtime, "Review", made.object_id) == {"comment": "fine", "stars": 4, "checked": True}
    ev = await _last_event(runtime)
    assert ev.payload["ops"] == {"comment": "fine", "stars": 4, "draft": {"__op": "Delete"}, "checked": True}
    assert ev.payload["hooked"] == ["checked", "comment", "draft"]


async def test_a_hook_that_changes_nothing_leaves_the_request_as_it_was(runtime):
    @runtime.hooks.before_save("Plain")
    async def nothing(req):
        req.object["n"] = req.object["n"]  # the same value: not a change

    [made] = await runtime.write([Create("Plain", {"n": Op("Set", 1)})], MASTER)
    await runtime.write([Update("Plain", made.object_id, {"n": Op("Increment", 1)})], MASTER)
    ev = await _last_event(runtime)
    assert ev.payload["ops"] == {"n": {"__op": "Increment", "amount": 1}}
    assert "hooked" not in ev.payload


@pytest.mark.parametrize("error, code, message", [
    (ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5"), 142, "stars must be between 1 and 5"),
    (ValueError("no"), ParseError.SCRIPT_FAILED, "no"),
    (RuntimeError(), ParseError.SCRIPT_FAILED, "Script failed. Unknown error."),
])
async def test_a_hook_that_refuses_writes_nothing(runtime, error, code, message):
    [made] = await runtime.write([Create("Guarded", {"n": Op("Set", 1)})], MASTER)

    @runtime.hooks.before_save("Guarded")
    async def refuse(req):
        raise error

    head = await runtime.read(event_log.head)
    for cmd in (Create("Guarded", {"n": Op("Set", 2)}), Update("Guarded", made.object_id, {"n": Op("Set", 3)})):
        with pytest.raises(ParseError) as caught:
            await runtime.write([cmd], MASTER)
        assert (caught.value.code, caught.value.message) == (code, message)
    assert await runtime.read(event_log.head) == head
    assert await _stored(runtime, "Guarded", made.object_id) == {"n": 1}


async def test_a_refusal_in_a_unit_writes_none_of_it(runtime):
    @runtime.hooks.before_save("Second")
    async def refuse(req):
        raise ParseError(ParseError.VALIDATION_ERROR, "no")

    head = await runtime.read(event_log.head)
    with pytest.raises(ParseError):
        await runtime.write([Create("First", {"n": Op("Set", 1)}), Create("Second", {"n": Op("Set", 1)})], MASTER)
    assert await runtime.read(event_log.head) == head


async def test_after_save_runs_after_the_commit_and_its_failure_changes_no_answer(runtime, caplog):
    seen = []

    @runtime.hooks.after_save("Done")
    async def look(req):
        seen.append((req.is_create, req.object, await _stored(runtime, "Done", req.object_id)))

    @runtime.hooks.after_save("Done")
    async def fail(req):
        raise RuntimeError("after-save broke")

    with caplog.at_level(logging.ERROR, logger="parsnip.hooks"):
        [made] = await runtime.write([Create("Done", {"n": Op("Set", 1)})], MASTER)
        [updated] = await runtime.write([Update("Done", made.object_id, {"n": Op("Increment", 1)})], MASTER)
    assert updated.fields == {"n": 2}
    assert seen == [(True, {"n": 1}, {"n": 1}), (False, {"n": 2}, {"n": 2})]  # the commit was visible
    assert sum("after-save broke" in (r.exc_text or "") for r in caplog.records) == 2


async def test_after_save_is_not_cancelled_with_its_caller(runtime):
    finished = trio.Event()

    @runtime.hooks.after_save("Slow")
    async def slow(req):
        await trio.sleep(0.2)
        finished.set()

    with trio.move_on_after(0.05):
        await runtime.write([Create("Slow", {"n": Op("Set", 1)})], MASTER)
    assert not finished.is_set()
    with trio.fail_after(5):
        await finished.wait()


async def test_concurrent_increments_are_not_lost_when_a_hook_runs(runtime):
    [made] = await runtime.write([Create("Counter", {"count": Op("Set", 0)})], MASTER)
    calls = 0

    @runtime.hooks.before_save("Counter")
    async def stamp(req):
        nonlocal calls
        calls += 1
        req.object["last"] = calls  # another field, from the object as this save saw it
        await trio.sleep(0.01)  # let the other saves read the same stored object meanwhile

    saves = 30
    async with trio.open_nursery() as nursery:
        for _ in range(saves):
            nursery.start_soon(runtime.write, [Update("Counter", made.object_id, {"count": Op("Increment", 1)})],
                               MASTER)
    assert calls == saves
    assert (await _stored(runtime, "Counter", made.object_id))["count"] == saves


async def test_replaying_the_log_runs_no_hook(runtime):
    calls = 0

    @runtime.hooks.before_save("Replayed")
    async def change(req):
        nonlocal calls
        calls += 1
        req.object["by_hook"] = calls

    [made] = await runtime.write([Create("Replayed", {"n": Op("Set", 1)})], MASTER)
    await runtime.write([Update("Replayed", made.object_id, {"n": Op("Increment", 5)})], MASTER)
    await runtime.write([Create("Replayed", {"n": Op("Set", 7)})], MASTER)
    assert calls == 3

    async def rebuilt(conn):
        before = await fingerprint(conn)
        await rebuild(conn, runtime.projector)
        return before, await fingerprint(conn)

    before, after = await runtime.read(rebuilt)
    assert after == before
    assert calls == 3
    assert await _stored(runtime, "Replayed", made.object_id) == {"n": 6, "by_hook": 2}


async def test_the_caller_is_authorized_before_any_hook_runs(runtime):
    owner = "owner000001"
    [made] = await runtime.write([Create("Private", {"n": Op("Set", 1), "ACL": Op("Set", {owner: {"read": True, "write": True}})})],
                                 MASTER)
    calls = []
    runtime.hooks.before_save("Private")(_recorder(calls))
    runtime.hooks.before_delete("Private")(_recorder(calls))
    stranger = Auth(user_id="stranger0001")
    with pytest.raises(ParseError) as caught:
        await runtime.write([Update("Private", made.object_id, {"n": Op("Set", 2)})], stranger.context(), stranger)
    assert caught.value.code == ParseError.OBJECT_NOT_FOUND
    with pytest.raises(ParseError) as caught:
        await runtime.write([Delete("Private", made.object_id)], stranger.context(), stranger)
    assert caught.value.code == ParseError.OBJECT_NOT_FOUND
    with pytest.raises(ParseError) as caught:
        await runtime.write([Update("Private", "missing0001", {"n": Op("Set", 2)})], MASTER)
    assert caught.value.code == ParseError.OBJECT_NOT_FOUND
    assert calls == []
    await runtime.write([Update("Private", made.object_id, {"n": Op("Set", 2)})], Auth(user_id=owner).context(),
                        Auth(user_id=owner))
    assert len(calls) == 1


def _recorder(calls: list):
    async def record(req):
        calls.append(req)
    return record


async def test_delete_hooks_may_refuse_and_see_what_was_deleted(runtime):
    [keep] = await runtime.write([Create("Doc", {"locked": Op("Set", True)})], MASTER)
    [drop] = await runtime.write([Create("Doc", {"locked": Op("Set", False)})], MASTER)
    deleted = []

    @runtime.hooks.before_delete("Doc")
    async def guard(req):
        if req.original["locked"]:
            raise ParseError(ParseError.VALIDATION_ERROR, "locked")

    @runtime.hooks.after_delete("Doc")
    async def record(req):
        deleted.append((req.object_id, req.object))

    with pytest.raises(ParseError):
        await runtime.write([Delete("Doc", keep.object_id)], MASTER)
    await runtime.write([Delete("Doc", drop.object_id)], MASTER)
    assert await _stored(runtime, "Doc", keep.object_id) == {"locked": True}
    assert await _stored(runtime, "Doc", drop.object_id) is None
    assert deleted == [(drop.object_id, {"locked": False})]


async def test_a_password_the_user_rules_did_not_hash_is_never_written(runtime):
    runtime.hooks.clear(builtins=True)
    head = await runtime.read(event_log.head)
    with pytest.raises(ParseError) as caught:
        await runtime.write([Create("_User", {"username": Op("Set", "u")}, "user0000001", server_chosen_id=True,
                                    password="secret")], MASTER)
    assert caught.value.code == ParseError.INTERNAL_SERVER_ERROR
    assert await runtime.read(event_log.head) == head


async def test_the_event_names_only_the_fields_user_code_chose(runtime):
    @runtime.hooks.before_save("_User")
    async def nickname(req):
        req.object["nickname"] = "N"

    await runtime.write([Create("_User", {"username": Op("Set", "nick")}, "user0000002", server_chosen_id=True,
                                password="pw")], MASTER)
    ev = await _last_event(runtime)
    assert ev.payload["hooked"] == ["nickname"]
    assert "_hashed_password" in ev.payload["set"] and "password" not in ev.payload["set"]
