"""Cloud Code triggers in-process, over the service layer and a real database: a trigger that
saves its own class stops at the recursion limit with 124 (before_save: the client gets it;
after_save: the chain ends, logged), a cascade within the limit runs whole, the client's
context reaches before_save and the same dict after_save, and the log event of a save names the
fields a trigger chose, so history can tell them from the client's."""

from __future__ import annotations

import logging

import pytest

from parsnip.core import log as event_log
from parsnip.core.cloud import triggers
from parsnip.core.cloud.registry import Cloud
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import MASTER
from parsnip.core.services import objects
from parsnip.core.services.base import Caller

AS_MASTER = Caller(MASTER)


async def _count(rt, class_name: str) -> int:
    return await objects.count(rt, AS_MASTER, class_name)


async def _last_event(rt):
    head = await rt.read(event_log.head)
    [ev] = await rt.read(event_log.read_after, head - 1, 1)
    return ev


def _install(rt, cloud: Cloud) -> None:
    triggers.install(cloud, rt.hooks, rt.load_object)


async def test_a_before_save_saving_its_own_class_stops_with_124_and_writes_nothing(runtime):
    cloud, entered = Cloud(), []

    @cloud.before_save("Loop")
    async def again(req):
        entered.append(1)
        await objects.create(runtime, AS_MASTER, "Loop", {"n": len(entered)})

    _install(runtime, cloud)
    with pytest.raises(ParseError) as caught:
        await objects.create(runtime, AS_MASTER, "Loop", {"n": 0})
    assert (caught.value.code, caught.value.message) == (124, "Too many recursive calls into Cloud Code")
    assert len(entered) == triggers.MAX_DEPTH
    assert await _count(runtime, "Loop") == 0


async def test_an_after_save_loop_ends_at_the_limit_and_every_save_before_it_stands(runtime, caplog):
    cloud = Cloud()

    @cloud.after_save("Echo")
    async def again(req):
        await objects.create(runtime, AS_MASTER, "Echo", {"from": req.object.id})

    _install(runtime, cloud)
    with caplog.at_level(logging.ERROR, logger="parsnip.hooks"):
        saved = await objects.create(runtime, AS_MASTER, "Echo", {"first": True})
    assert saved.created
    assert await _count(runtime, "Echo") == 1 + triggers.MAX_DEPTH
    assert any("Too many recursive calls" in (r.exc_text or "") for r in caplog.records)


async def test_a_cascade_within_the_limit_runs_whole(runtime):
    cloud = Cloud()
    chain = ["A", "B", "C", "D"]
    for here, there in zip(chain, chain[1:]):
        def make(there=there):
            async def cascade(req):
                await objects.create(runtime, AS_MASTER, there, {"from": req.object.id})
            return cascade
        cloud.after_save(here)(make())

    _install(runtime, cloud)
    await objects.create(runtime, AS_MASTER, "A", {})
    assert [await _count(runtime, c) for c in chain] == [1, 1, 1, 1]


async def test_the_clients_context_reaches_before_save_and_the_same_dict_after_save(runtime):
    cloud, seen = Cloud(), []

    @cloud.before_save("Ctx")
    async def before(req):
        seen.append(("before", dict(req.context)))
        req.context["added"] = "by before_save"

    @cloud.after_save("Ctx")
    async def after(req):
        seen.append(("after", dict(req.context)))

    _install(runtime, cloud)
    caller = Caller(MASTER, cloud_context={"from": "client"})
    await objects.create(runtime, caller, "Ctx", {"n": 1})
    await objects.create(runtime, AS_MASTER, "Ctx", {"n": 2})  # no context sent: an empty one
    assert seen == [("before", {"from": "client"}), ("after", {"from": "client", "added": "by before_save"}),
                    ("before", {}), ("after", {"added": "by before_save"})]


async def test_the_log_event_names_the_fields_a_trigger_chose(runtime):
    cloud = Cloud()

    @cloud.before_save("Review")
    async def tidy(req):
        req.object.set("comment", req.object.get("comment").strip())
        req.object.set("checked", True)

    _install(runtime, cloud)
    saved = await objects.create(runtime, AS_MASTER, "Review", {"comment": "  fine  ", "stars": 4})
    ev = await _last_event(runtime)
    assert (ev.kind, ev.object_id) == ("create", saved.object_id)
    assert ev.payload["ops"] == {"comment": "fine", "stars": 4, "checked": True}
    assert ev.payload["hooked"] == ["checked", "comment"]  # stars is the client's own
    await objects.update(runtime, AS_MASTER, "Review", saved.object_id, {"stars": {"__op": "Increment", "amount": 1}})
    ev = await _last_event(runtime)
    assert ev.payload["ops"]["stars"] == {"__op": "Increment", "amount": 1}  # untouched: still an Increment
    assert "hooked" not in ev.payload  # the trigger set the values they had: no change of its own
