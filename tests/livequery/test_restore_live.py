"""Restores reach LiveQuery subscribers as ordinary events: an undelete is a create (with the
object's first createdAt), a revert an update, enter or leave, and a class restore deletes the
objects made since; a resuming client replays them from the log the same way."""

from __future__ import annotations

from trio_websocket import open_websocket_url

from tests.livequery.live_helpers import Rest, connected, ws_url


def _seen(messages: list[dict]) -> list[tuple]:
    return [(m["op"], m["object"]["objectId"], m["object"].get("n")) for m in messages]


def _but_client(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in ("requestId", "clientId")}


async def test_a_subscriber_sees_restores_as_create_update_enter_leave_and_delete(server, cls):
    rest = Rest(server)
    m = rest.master
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        subscribed = await c.subscribe(1, cls, {"room": "x"})
        a = await rest.create(cls, {"room": "x", "n": 1})
        made = await c.recv()
        then = made["position"]
        await rest.call("PUT", f"/classes/{cls}/{a}", {"n": 2}, m, 200)
        await rest.call("POST", f"/history/{cls}/{a}/restore", {"position": then}, m, 200)  # revert: update
        await rest.call("PUT", f"/classes/{cls}/{a}", {"room": "y"}, m, 200)
        await rest.call("POST", f"/history/{cls}/{a}/restore", {"version": 1}, m, 200)  # back in: enter
        await rest.call("DELETE", f"/classes/{cls}/{a}", None, m, 200)
        await rest.call("POST", f"/history/{cls}/{a}/restore", {"asOf": then}, m, 200)  # undelete: create
        b = await rest.create(cls, {"room": "x", "n": 9})
        done = await rest.call("POST", f"/history/{cls}/restore", {"asOf": then}, m, 200)  # b goes: delete
        live = [await c.recv() for _ in range(8)]
        await c.nothing()
    assert done == {"restored": 0, "deleted": 1, "reverted": 0, "position": live[-1]["position"]}
    assert _seen(live) == [("update", a, 2), ("update", a, 1), ("leave", a, 1), ("enter", a, 1),
                           ("delete", a, 1), ("create", a, 1), ("create", b, 9), ("delete", b, 9)]
    assert live[1]["original"]["n"] == 2
    assert live[5]["object"]["createdAt"] == made["object"]["createdAt"]
    assert live[5]["object"]["updatedAt"] > made["object"]["updatedAt"]

    # A client resuming from before all this replays the very same messages from the log.
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        assert (await c.subscribe(2, cls, {"room": "x"}, position=subscribed["position"]))["op"] == "subscribed"
        replayed = [await c.recv() for _ in range(9)]
        await c.nothing()
    assert [_but_client(r) for r in replayed] == [_but_client(r) for r in [made, *live]]
