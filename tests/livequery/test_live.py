"""Parsnip's LiveQuery server end to end, beyond what Parse Server pins down (test_protocol.py):
resume by log position, slow clients, sessions that end, role changes, operators the matcher
cannot decide, protected fields, requestId reuse. A real `parsnip` process, real websockets.
"""

from __future__ import annotations

import json
import secrets

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.livequery.live_helpers import Rest, connected, ws_url

async def test_a_client_resumes_from_its_last_position_and_misses_nothing(server, cls):
    rest = Rest(server)
    await rest.create(cls, {"room": "x", "i": -1})
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        subscribed = await c.subscribe(1, cls, {"room": "x"})
        assert subscribed["op"] == "subscribed" and isinstance(subscribed["position"], int)
        await rest.create(cls, {"room": "x", "i": 0})
        first = await c.recv()
        assert first["op"] == "create" and first["position"] > subscribed["position"]
        last_seen = first["position"]
    # Offline: creates, an update out of the room, one in another room, a delete.
    ids = [await rest.create(cls, {"room": "x", "i": i}) for i in range(1, 6)]
    await rest.call("PUT", f"/classes/{cls}/{ids[1]}", {"room": "y"}, rest.master, 200)
    await rest.create(cls, {"room": "y", "i": 99})
    await rest.call("DELETE", f"/classes/{cls}/{ids[2]}", None, rest.master, 200)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        assert (await c.subscribe(7, cls, {"room": "x"}, position=last_seen))["op"] == "subscribed"
        await rest.create(cls, {"room": "x", "i": 6})  # live, after the missed ones
        got = [await c.recv() for _ in range(8)]
        await c.nothing()
    assert [(m["op"], m["object"].get("i")) for m in got] == [
        ("create", 1), ("create", 2), ("create", 3), ("create", 4), ("create", 5),
        ("leave", 2), ("delete", 3), ("create", 6)]
    positions = [m["position"] for m in got]
    assert positions == sorted(positions) and positions[0] > last_seen
    assert all(m["requestId"] == 7 for m in got)


async def test_a_client_that_stops_reading_is_cut_off_not_buffered_forever(server, cls):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server), max_message_size=1 << 24) as ws:
        c = await connected(ws, server)
        await c.subscribe(1, cls, {"kind": "big"})
        blob = "x" * 60_000
        # Far more than the socket buffers and the queue hold, written while the client reads nothing.
        for _ in range(12):
            await rest.call("POST", "/batch", {"requests": [
                {"method": "POST", "path": f"/parse/classes/{cls}", "body": {"kind": "big", "blob": blob}}
                for _ in range(50)]}, rest.master, 200)
        ops = []
        with trio.fail_after(30):
            try:
                while True:
                    ops.append(json.loads(await ws.get_message()))
            except ConnectionClosed:
                pass
    assert len(ops) < 600
    assert ops[-1]["op"] == "error" and ops[-1]["code"] == 5 and ops[-1]["reconnect"] is True
    # Whatever did arrive before the cut came in order, with nothing skipped.
    positions = [m["position"] for m in ops if m["op"] == "create"]
    assert positions == sorted(positions)


async def test_a_logged_out_session_stops_receiving(server, cls):
    rest = Rest(server)
    uid, token = await rest.signup()
    acl = {uid: {"read": True}}
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, sessionToken=token)
        assert (await c.subscribe(1, cls, {}))["op"] == "subscribed"
        await rest.create(cls, {"n": 1, "ACL": acl})
        assert (await c.recv())["object"]["n"] == 1
        await rest.call("POST", "/logout", {}, {"X-Parse-Session-Token": token}, 200)
        error = await c.recv()
        assert error == {"op": "error", "error": "Invalid session token", "code": 209, "reconnect": False,
                         "requestId": 1}
        await rest.create(cls, {"n": 2, "ACL": acl})
        await rest.create(cls, {"n": 3})  # public: the subscription is gone, so not this either
        await c.nothing()
        # A new subscription with the dead token is refused.
        refused = await c.subscribe(2, cls, {})
        assert (refused["op"], refused["code"], refused["requestId"]) == ("error", 209, 2)


async def test_an_erased_user_stops_receiving(server, cls):
    """Erasing a user's data (POST /history/_User/{id}/erase) ends their subscriptions, as a
    deleted user's; their token is refused from then on."""
    rest = Rest(server)
    uid, token = await rest.signup()
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, sessionToken=token)
        assert (await c.subscribe(1, cls, {}))["op"] == "subscribed"
        await rest.call("POST", f"/history/_User/{uid}/erase", {"reason": "asked"}, rest.master, 200)
        error = await c.recv()
        assert (error["op"], error["code"], error["requestId"]) == ("error", 209, 1)
        await rest.create(cls, {"n": 1})
        await c.nothing()
    await rest.call("GET", "/users/me", None, {"X-Parse-Session-Token": token}, 400)


async def test_unsubscribing_a_subscription_the_server_ended_is_acknowledged(server, cls):
    """The JS SDK keeps a subscription the server ended and unsubscribes it later (its normal
    cleanup). Parse answers an unknown requestId with an error saying `reconnect`, on which the
    SDK opens a new socket and leaves this one open; so an ended one is answered `unsubscribed`."""
    rest = Rest(server)
    _, token = await rest.signup()
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        client_id = (await c.subscribe(1, cls, {}, sessionToken=token))["clientId"]
        assert (await c.subscribe(2, cls, {}, sessionToken=token))["op"] == "subscribed"
        await rest.call("POST", "/logout", {}, {"X-Parse-Session-Token": token}, 200)
        ended = sorted([await c.recv(), await c.recv()], key=lambda m: m["requestId"])
        assert [(m["op"], m["code"], m["requestId"]) for m in ended] == [("error", 209, 1), ("error", 209, 2)]
        await c.send(op="unsubscribe", requestId=1)
        assert await c.recv() == {"op": "unsubscribed", "clientId": client_id, "requestId": 1}
        # Once only: the id is forgotten, as any unsubscribed one is.
        await c.send(op="unsubscribe", requestId=1)
        again = await c.recv()
        assert (again["op"], again["code"], again["reconnect"]) == ("error", 2, True)
        # A new subscription under an ended id replaces the memory of the ended one.
        assert (await c.subscribe(2, cls, {}))["op"] == "subscribed"
        await c.send(op="unsubscribe", requestId=2)
        assert (await c.recv())["op"] == "unsubscribed"
        await c.send(op="unsubscribe", requestId=2)
        assert (await c.recv())["code"] == 2


async def test_a_role_granted_or_taken_counts_from_the_next_event(server, cls):
    rest = Rest(server)
    uid, token = await rest.signup()
    role = "readers" + secrets.token_hex(3)
    role_id = (await rest.call("POST", "/roles", {"name": role, "ACL": {"*": {"read": True}}}, rest.master, 201))["objectId"]
    acl = {f"role:{role}": {"read": True}}
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, sessionToken=token)
        await c.subscribe(1, cls, {})
        await rest.create(cls, {"n": 1, "ACL": acl})
        await c.nothing()
        user = {"__type": "Pointer", "className": "_User", "objectId": uid}
        await rest.call("PUT", f"/roles/{role_id}", {"users": {"__op": "AddRelation", "objects": [user]}}, rest.master, 200)
        await rest.create(cls, {"n": 2, "ACL": acl})
        assert (await c.recv())["object"]["n"] == 2
        await rest.call("PUT", f"/roles/{role_id}", {"users": {"__op": "RemoveRelation", "objects": [user]}}, rest.master, 200)
        await rest.create(cls, {"n": 3, "ACL": acl})
        await c.nothing()


@pytest.mark.parametrize("where, operator", [
    ({"owner": {"$inQuery": {"className": "Other", "where": {}}}}, "$inQuery"),
    ({"k": {"$select": {"query": {"className": "Other", "where": {}}, "key": "k"}}}, "$select"),
    ({"k": {"$dontSelect": {"query": {"className": "Other", "where": {}}, "key": "k"}}}, "$dontSelect"),
    ({"$relatedTo": {"object": {"__type": "Pointer", "className": "Other", "objectId": "x"}, "key": "r"}}, "$relatedTo"),
    ({"t": {"$text": {"$search": {"$term": "hello"}}}}, "$text"),
    ({"$or": [{"a": 1}, {"owner": {"$notInQuery": {"className": "Other", "where": {}}}}]}, "$inQuery"),
])
async def test_operators_the_matcher_cannot_decide_are_refused_at_subscribe(server, cls, where, operator):
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        error = await c.subscribe(3, cls, where)
    assert (error["op"], error["code"], error["requestId"], error["reconnect"]) == ("error", 102, 3, False)
    assert operator in error["error"]


@pytest.mark.parametrize("where, code", [
    ({"n": {"$foo": 1}}, 102),
    ({"n": {"$regex": "("}}, 102),
    ({"createdAt": "not a date"}, 111),
    ({"$bad": 1}, 105),
])
async def test_bad_queries_are_refused_with_parse_codes(server, cls, where, code):
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        error = await c.subscribe(4, cls, where)
    assert (error["op"], error["code"], error["requestId"]) == ("error", code, 4)


async def test_protected_fields_are_hidden_and_cannot_be_queried(server, cls):
    rest = Rest(server)
    await rest.call("POST", f"/schemas/{cls}", {"className": cls, "fields": {"secret": {"type": "String"}},
                                                 "classLevelPermissions": {
                                                     **{op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")},
                                                     "protectedFields": {"*": ["secret"]}}},
                    rest.master, 200)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        refused = await c.subscribe(1, cls, {"secret": "s"})
        assert (refused["op"], refused["code"]) == ("error", 119)
        refused = await c.subscribe(2, cls, {}, query={"watch": ["secret"]})
        assert (refused["op"], refused["code"]) == ("error", 119)
        assert (await c.subscribe(3, cls, {}))["op"] == "subscribed"
        await rest.create(cls, {"secret": "s", "open": 1})
        event = await c.recv()
        assert event["object"]["open"] == 1 and "secret" not in event["object"]


async def test_a_reused_request_id_replaces_the_subscription(server, cls):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        await c.subscribe(1, cls, {"room": "a"})
        assert (await c.subscribe(1, cls, {"room": "b"}))["op"] == "subscribed"
        await rest.create(cls, {"room": "a"})
        await rest.create(cls, {"room": "b"})
        event = await c.recv()
        assert (event["op"], event["requestId"], event["object"]["room"]) == ("create", 1, "b")
        await c.nothing()


async def test_classes_outside_live_query_class_names_send_nothing(server):
    rest = Rest(server)
    quiet = "Quiet" + secrets.token_hex(3)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server)
        assert (await c.subscribe(1, quiet, {}))["op"] == "subscribed"
        await rest.create(quiet, {"n": 1})
        await c.nothing()


async def test_user_events_never_carry_password_hashes_or_other_users_private_fields(server):
    rest = Rest(server)
    uid, token = await rest.signup()
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, sessionToken=token)
        await c.subscribe(1, "_User", {"objectId": uid})
        await rest.call("PUT", f"/users/{uid}", {"nick": "n", "email": "a@example.com"},
                        {"X-Parse-Session-Token": token}, 200)
        event = await c.recv()
    assert event["op"] == "update" and event["object"]["nick"] == "n"
    for obj in (event["object"], event["original"]):
        assert not {"_hashed_password", "sessionToken", "password"} & set(obj)


_ALL_OPS = ("find", "get", "count", "create", "update", "delete", "addField")


@pytest.mark.parametrize("clp, with_session", [
    ({op: {} for op in _ALL_OPS}, True),                                             # nobody may find
    ({**{op: {"*": True} for op in _ALL_OPS}, "find": {"requiresAuthentication": True}}, False),
    ({**{op: {"*": True} for op in _ALL_OPS}, "find": {"role:admins": True}}, True),
])
async def test_a_subscription_is_refused_exactly_as_a_rest_find_is(server, cls, clp, with_session):
    rest = Rest(server)
    await rest.call("POST", f"/schemas/{cls}", {"className": cls, "classLevelPermissions": clp}, rest.master, 200)
    _, token = await rest.signup()
    headers = {"X-Parse-Session-Token": token} if with_session else {}
    find = await rest.call("GET", f"/classes/{cls}", None, headers)
    extra = {"sessionToken": token} if with_session else {}
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, **extra)
        error = await c.subscribe(1, cls, {})
    assert "code" in find
    assert (error["op"], error["code"], error["error"]) == ("error", find["code"], find["error"])


async def test_pointer_permissions_limit_events_to_the_pointed_at_user(server, cls):
    rest = Rest(server)
    clp = {**{op: {"*": True} for op in _ALL_OPS}, "find": {}, "get": {}, "readUserFields": ["owner"]}
    await rest.call("POST", f"/schemas/{cls}", {"className": cls, "fields": {
        "owner": {"type": "Pointer", "targetClass": "_User"}}, "classLevelPermissions": clp}, rest.master, 200)
    me, token = await rest.signup()
    other, _ = await rest.signup()
    ptr = lambda uid: {"__type": "Pointer", "className": "_User", "objectId": uid}  # noqa: E731
    async with open_websocket_url(ws_url(server)) as ws:
        c = await connected(ws, server, sessionToken=token)
        assert (await c.subscribe(1, cls, {}))["op"] == "subscribed"
        await rest.create(cls, {"owner": ptr(other), "n": 1})
        await rest.create(cls, {"owner": ptr(me), "n": 2})
        event = await c.recv()
        assert event["object"]["n"] == 2
        await c.nothing()


@pytest.fixture(scope="module")
def pinging_server(admin_dsn: str):
    from tests.conftest import _admin_sql, _with_database, start_server, stop_server
    name = "parsnip_lqp_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--startLiveQueryServer",
                        "--liveQueryServerOptions", json.dumps({"websocketTimeout": 200}))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_client_that_stops_answering_pings_is_dropped_and_one_that_answers_stays(pinging_server):
    host, port = pinging_server.url.split("//")[1].split("/")[0].split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"GET /parse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    received = b""
    with trio.fail_after(5):  # a ping every 200 ms, never answered: the server hangs up
        while True:
            data = await stream.receive_some(4096)
            if not data:
                break
            received += data
    assert b" 101 " in received.split(b"\r\n", 1)[0]
    assert b"\x89\x00" in received  # it was pinged
    async with open_websocket_url(ws_url(pinging_server)) as ws:  # answers pings by itself
        c = await connected(ws, pinging_server)
        await trio.sleep(1.0)
        await c.send(op="unsubscribe", requestId=1)
        assert (await c.recv())["code"] == 2  # still connected and served
