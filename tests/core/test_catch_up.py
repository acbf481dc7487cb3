"""The catch-up subscription (`core/catch_up.py`): the log's backlog, then the bus, each event
once and in order, also for a reader the bus cut off for falling behind (it reads the log again);
and a restore's events are `restore` entries in the change feed."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

import trio

from parsnip.core import catch_up, log as event_log
from parsnip.core.commands import Create
from parsnip.core.events import CREATE, Context, Event
from parsnip.core.history.feed import entry
from parsnip.core.operations import Op

MASTER = Context(master=True)


async def _create(rt, n: int) -> None:
    for i in range(n):
        await rt.write([Create("Box", {"n": Op("Set", i)})], MASTER)


def _reader(rt, keep=None):
    """The log after a position; with `keep`, only the events it accepts, as `follow` requires
    of its reader (the change feed's reads filter by class in SQL)."""
    if keep is None:
        return partial(rt.read, event_log.read_after)

    async def read(after: int, limit: int) -> list[Event]:
        return [ev for ev in await rt.read(event_log.read_after, after, limit) if keep(ev)]
    return read


async def test_backlog_then_live_each_once_in_order(runtime):
    await _create(runtime, 5)  # 1 schema event + 5 objects
    seen: list[int] = []
    batches = catch_up.follow(runtime.bus, _reader(runtime), 2, batch=2)
    async with trio.open_nursery() as nursery:
        async def writer() -> None:
            await _create(runtime, 5)

        async for events in batches:
            seen += [ev.position for ev in events]
            if len(seen) == 4:
                nursery.start_soon(writer)
            if seen and seen[-1] == 11:
                break
    await batches.aclose()
    assert seen == list(range(3, 12))


async def test_a_reader_cut_off_by_the_bus_catches_up_from_the_log(runtime):
    await _create(runtime, 1)
    batches = catch_up.follow(runtime.bus, _reader(runtime), 0, buffer=3, idle=0.2)
    first = await batches.__anext__()
    assert [ev.position for ev in first] == [1, 2]
    await _create(runtime, 20)  # the reader reads nothing meanwhile: the bus cuts it off after 3
    await trio.sleep(0.1)
    seen = []
    async for events in batches:
        assert events, "no idle tick before everything committed has come"
        seen += [ev.position for ev in events]
        if seen[-1] == 22:
            break
    await batches.aclose()
    assert seen == list(range(3, 23))


async def test_an_idle_reader_gets_empty_batches_whatever_other_classes_do(runtime):
    await _create(runtime, 1)
    other = lambda ev: ev.class_name == "Other"  # noqa: E731
    batches = catch_up.follow(runtime.bus, _reader(runtime, other), 2, keep=other, idle=0.3)

    async def busy() -> None:
        for _ in range(8):
            await _create(runtime, 1)
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(busy)
        with trio.fail_after(2):
            assert await batches.__anext__() == []
    await batches.aclose()


def test_a_restores_events_are_restore_entries():
    at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    ev = Event(CREATE, "Box", "abc", 3, at, MASTER, {"set": {"n": 1}, "ops": {"n": 1}, "restore": {"version": 1}},
               position=9)
    text = entry(ev, lambda *_: frozenset(), "http://x/files/app/")
    assert '"op":"restore"' in text and '"objectId":"abc"' in text
    plain = Event(CREATE, "Box", "abc", 1, at, MASTER, {"set": {"n": 1}, "ops": {"n": 1}}, position=2)
    assert '"op":"create"' in entry(plain, lambda *_: frozenset(), "")
