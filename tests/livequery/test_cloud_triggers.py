"""Cloud Code's LiveQuery triggers (issue 12, item 5): `@cloud.before_connect()`,
`@cloud.before_subscribe(cls)` and `@cloud.after_live_query_event(cls)` refuse, change and drop
as Parse's beforeConnect, beforeSubscribe and afterLiveQueryEvent do, with their validators; a
trigger's failure is its client's error and nothing else's. A real `parsnip` process loading a
cloud module the test writes, real websockets. The same triggers written in JavaScript on Parse
Server 9.10 gave the same frames (codes, messages, requestId, keys, renamed and withheld events),
except that Parse's LiveQuery requests carry no `master`, so its `requireMaster` refuses a client
connected with the master key too.
"""

from __future__ import annotations

import json
import secrets

import operator
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from trio_websocket import open_websocket_url

from parsnip.core.cloud.live import SubscriptionQuery
from parsnip.core.cloud.registry import Cloud
from parsnip.core.query.ast import parse_where
from parsnip.core.query.match import matches
from parsnip.livequery.cloud_hooks import hooks_for
from parsnip.livequery.hooks import NO_HOOKS
from tests.conftest import _admin_sql, _with_database, start_server, stop_server
from tests.livequery.conftest import server_log
from tests.livequery.live_helpers import Client, Rest, connected, ws_url

KEY_PAIRS = {"clientKey": "ck", "masterKey": "test-master"}  # LiveQuery knows the master key from keyPairs

CLOUD = '''
from parsnip.cloud import Cloud, ParseError, ParseQuery

cloud = Cloud()


@cloud.before_connect()
async def gate(req):
    if req.installation_id == "banned":
        raise ParseError(ParseError.VALIDATION_ERROR, "this device is banned")
    if req.installation_id == "crash":
        raise RuntimeError("connect hook crashed")
    if req.installation_id == "members" and req.user is None:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "members only")
    if req.user is not None and req.user.get("banned"):  # req.user is the session's _User
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "banned member")


@cloud.before_subscribe("Room")
async def rooms(req):
    if req.query.where.get("name") == "secret":
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "private room")
    if req.query.where.get("name") == "crash":
        raise KeyError("no such room")
    if await ParseQuery("RoomClosed").equal_to("name", req.query.where.get("name")).first(master=True):
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "room closed")
    req.query.equal_to("visible", True).select("name")


@cloud.before_subscribe("Staff", require_user=True)
def staff(req):  # a plain def: runs in a worker thread
    req.query.equal_to("team", req.user.id)


@cloud.before_subscribe("Inbox", require_user=True)  # the README's example
async def own_messages(req):
    req.query.equal_to("to", req.user).select("text")


@cloud.before_subscribe("Mods", require_any_user_roles=["mod"])
async def mods(req):
    pass


@cloud.before_subscribe("Nicks", require_user_keys=["nick"])
async def nicks(req):
    pass


@cloud.before_subscribe("Quiet", skip_with_master_key=True)
async def quiet(req):
    raise ParseError(ParseError.OPERATION_FORBIDDEN, "the handler ran")


@cloud.before_subscribe("Admin", require_master=True)
async def admin(req):
    pass


@cloud.after_live_query_event("Message")
async def message(req):
    if req.object.get("boom"):
        raise RuntimeError("event hook crashed")
    only_for = req.object.get("onlyFor")
    if only_for is not None and only_for != req.user_id:
        req.send_event = False
    req.object.set("seenBy", req.user.id if req.user else "anonymous")
    req.object.unset("secret")
    at = req.object.get("at")
    if at is not None:
        req.object.set("atYear", at.year)  # a Date arrives as a datetime
    if req.original is not None:
        req.object.set("was", req.original.get("text"))
    if req.object.get("quiet"):
        req.event = "whisper"  # no such event type: nothing is sent, as Parse
    if req.object.get("asEnter"):
        req.event = "enter"


@cloud.after_live_query_event("Audit", fields={"level": {"options": ["info", "warn"]}})
async def audit(req):
    pass
'''


@pytest.fixture(scope="module")
def server(admin_dsn: str, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lq-cloud")
    (folder / "main.py").write_text(CLOUD)
    name = "parsnip_lqc_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    info = start_server(_with_database(admin_dsn, name), "--startLiveQueryServer",
                        "--liveQuery", json.dumps({"classNames": [".*"]}),
                        "--liveQueryServerOptions", json.dumps({"keyPairs": KEY_PAIRS}), "--cloud", str(folder / "main.py"))
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _connected(ws, server, **extra) -> Client:
    """A client connected with the client key (and whatever else `extra` says)."""
    return await connected(ws, server, clientKey=KEY_PAIRS["clientKey"], **extra)


def _refused(code: int, message: str, request_id=None) -> dict:
    return {"op": "error", "code": code, "error": message, "reconnect": False, "requestId": request_id}


# -- before_connect -------------------------------------------------------------------------------

@pytest.mark.parametrize("installation, code, message", [
    ("banned", 142, "this device is banned"),  # a ParseError keeps its code and message
    ("crash", 141, "connect hook crashed"),  # anything else is Parse's 141 with its text
    ("members", 119, "members only"),  # no session: the trigger sees no user
])
async def test_before_connect_refuses_with_the_triggers_error(server, installation, code, message):
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=server.app_id, clientKey="ck", installationId=installation)
        assert await c.recv() == _refused(code, message)
        # Not connected: a subscribe is refused as one before any connect.
        await c.send(op="subscribe", requestId=1, query={"className": "Plain", "where": {}})
        assert (await c.recv())["code"] == 2
        # The client may try again, and is connected when the trigger lets it.
        await c.send(op="connect", applicationId=server.app_id, clientKey="ck", installationId="fine")
        assert (await c.recv())["op"] == "connected"


async def test_before_connect_sees_who_the_session_token_stands_for(server):
    rest = Rest(server)
    _, token = await rest.signup()
    banned_id, banned_token = await rest.signup()
    await rest.call("PUT", f"/users/{banned_id}", {"banned": True}, rest.master, 200)
    async with open_websocket_url(ws_url(server)) as ws:
        await _connected(ws, server, installationId="members", sessionToken=token)
    async with open_websocket_url(ws_url(server)) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=server.app_id, clientKey="ck", sessionToken=banned_token)
        assert await c.recv() == _refused(119, "banned member")


# -- before_subscribe -----------------------------------------------------------------------------

async def test_before_subscribe_refuses_one_subscription_and_the_connection_goes_on(server):
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert await c.subscribe(1, "Room", {"name": "secret"}) == _refused(119, "private room", 1)
        assert await c.subscribe(2, "Room", {"name": "crash"}) == _refused(141, "'no such room'", 2)
        assert (await c.subscribe(3, "Room", {"name": "lobby"}))["op"] == "subscribed"
        await c.nothing(0.2)
    # The traceback is the operator's, in the log; the client got only the message.
    assert "KeyError: 'no such room'" in server_log(server)


async def test_before_subscribe_may_query_the_database(server):
    rest = Rest(server)
    await rest.create("RoomClosed", {"name": "attic"})
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert await c.subscribe(1, "Room", {"name": "attic"}) == _refused(119, "room closed", 1)


async def test_before_subscribe_changes_the_query_and_the_keys_sent(server):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert (await c.subscribe(4, "Room", {"name": "lobby"}))["op"] == "subscribed"
        await rest.create("Room", {"name": "lobby", "visible": False, "topic": "hidden by the query"})
        await rest.create("Room", {"name": "hall", "visible": True, "topic": "another room"})
        object_id = await rest.create("Room", {"name": "lobby", "visible": True, "topic": "not selected"})
        event = await c.recv()
        await c.nothing()
    assert (event["op"], event["requestId"], event["object"]["objectId"]) == ("create", 4, object_id)
    assert set(event["object"]) == {"className", "objectId", "createdAt", "updatedAt", "name"}


async def test_a_plain_def_before_subscribe_narrows_to_the_users_own_objects(server):
    rest = Rest(server)
    user_id, token = await rest.signup()
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server, sessionToken=token)
        assert (await c.subscribe(1, "Staff", {}))["op"] == "subscribed"
        await rest.create("Staff", {"team": "someone else"})
        await rest.create("Staff", {"team": user_id, "n": 1})
        event = await c.recv()
        await c.nothing()
    assert (event["op"], event["object"]["n"]) == ("create", 1)


async def test_before_subscribe_narrows_to_a_pointer_to_the_user(server):
    rest = Rest(server)
    user_id, token = await rest.signup()
    other_id, _ = await rest.signup()
    to = {"__type": "Pointer", "className": "_User"}
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server, sessionToken=token)
        assert (await c.subscribe(1, "Inbox", {}))["op"] == "subscribed"
        await rest.create("Inbox", {"to": {**to, "objectId": other_id}, "text": "not yours"})
        await rest.create("Inbox", {"to": {**to, "objectId": user_id}, "text": "yours"})
        event = await c.recv()
        await c.nothing()
    assert (event["object"]["text"], "to" in event["object"]) == ("yours", False)


@pytest.mark.parametrize("cls, connect, outcome", [
    ("Staff", {}, _refused(142, "Validation failed. Please login to continue.", 9)),
    ("Admin", {}, _refused(142, "Validation failed. Master key is required to complete this request.", 9)),
    ("Admin", {"masterKey": KEY_PAIRS["masterKey"]}, "subscribed"),
])
async def test_before_subscribe_validators_answer_with_parses_messages(server, cls, connect, outcome):
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server, **connect)
        answer = await c.subscribe(9, cls, {})
    assert (answer["op"] if outcome == "subscribed" else answer) == outcome, answer


@pytest.mark.parametrize("cls, who, outcome", [
    ("Mods", "plain user", _refused(142, "Validation failed. User does not match the required roles.", 9)),
    ("Mods", "moderator", "subscribed"),
    ("Nicks", "plain user", _refused(142, "Validation failed. Please set data for nick on your account.", 9)),
    ("Nicks", "nicknamed", "subscribed"),
    ("Quiet", "plain user", _refused(119, "the handler ran", 9)),
    ("Quiet", "master", "subscribed"),
])
async def test_before_subscribe_role_user_key_and_master_validators(server, cls, who, outcome):
    rest = Rest(server)
    user_id, token = await rest.signup()
    if who == "nicknamed":
        await rest.call("PUT", f"/users/{user_id}", {"nick": "m"}, rest.master, 200)
    if who == "moderator":  # the one member of role "mod"
        await rest.call("POST", "/roles", {"name": "mod", "ACL": {"*": {"read": True}},
                                            "users": {"__op": "AddRelation", "objects": [
                                                {"__type": "Pointer", "className": "_User", "objectId": user_id}]}},
                        rest.master, 201)
    connect = {"masterKey": KEY_PAIRS["masterKey"]} if who == "master" else {"sessionToken": token}
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server, **connect)
        answer = await c.subscribe(9, cls, {})
    assert (answer["op"] if outcome == "subscribed" else answer) == outcome, answer


# -- after_live_query_event -----------------------------------------------------------------------

async def test_after_event_changes_and_drops_each_subscribers_event(server):
    rest = Rest(server)
    user_id, token = await rest.signup()
    async with open_websocket_url(ws_url(server)) as ws_user, open_websocket_url(ws_url(server)) as ws_anon:
        user = await _connected(ws_user, server, sessionToken=token)
        anon = await _connected(ws_anon, server)
        for c in (user, anon):
            assert (await c.subscribe(1, "Message", {}))["op"] == "subscribed"
        await rest.create("Message", {"text": "for one", "onlyFor": user_id, "secret": "s"})
        await rest.create("Message", {"text": "for all", "at": {"__type": "Date", "iso": "2024-05-06T07:08:09.000Z"}})
        user_got = [await user.recv() for _ in range(2)]
        anon_got = [await anon.recv() for _ in range(1)]
        await user.nothing(0.2)
        await anon.nothing(0.2)
    assert [(m["op"], m["object"]["text"], m["object"]["seenBy"]) for m in user_got] == [
        ("create", "for one", user_id), ("create", "for all", user_id)]
    assert "secret" not in user_got[0]["object"] and user_got[1]["object"]["atYear"] == 2024
    assert [(m["op"], m["object"]["text"], m["object"]["seenBy"]) for m in anon_got] == [
        ("create", "for all", "anonymous")]


async def test_after_event_sees_the_original_and_may_rename_or_withhold_the_event(server):
    rest = Rest(server)
    object_id = await rest.create("Message", {"text": "first"})
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert (await c.subscribe(1, "Message", {"objectId": object_id}))["op"] == "subscribed"
        for body in ({"text": "second"}, {"text": "third", "quiet": True}, {"text": "fourth", "quiet": False,
                                                                             "asEnter": True}):
            await rest.call("PUT", f"/classes/Message/{object_id}", body, rest.master, 200)
        got = [await c.recv() for _ in range(2)]
        await c.nothing()
    assert [(m["op"], m["object"]["text"], m["object"]["was"], m["original"]["text"]) for m in got] == [
        ("update", "second", "first", "first"), ("enter", "fourth", "third", "third")]


async def test_after_event_failure_is_that_subscribers_error_and_the_next_event_comes(server):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert (await c.subscribe(1, "Message", {"room": "r"}))["op"] == "subscribed"
        assert (await c.subscribe(2, "Plain", {}))["op"] == "subscribed"
        await rest.create("Message", {"room": "r", "boom": True})
        await rest.create("Plain", {"n": 1})
        await rest.create("Message", {"room": "r", "text": "after"})
        got = [await c.recv() for _ in range(3)]
    assert got[0] == _refused(141, "event hook crashed", 1)
    # A class with no trigger gets its events as they are.
    assert (got[1]["op"], got[1]["requestId"], "seenBy" in got[1]["object"]) == ("create", 2, False)
    assert (got[2]["op"], got[2]["object"]["text"], got[2]["object"]["seenBy"]) == ("create", "after", "anonymous")


@pytest.mark.parametrize("level, answer", [
    ("info", "create"),
    ("debug", _refused(142, "Validation failed. Invalid option for level. Expected: info, warn", 1)),
])
async def test_after_event_validators_check_the_objects_fields(server, level, answer):
    rest = Rest(server)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert (await c.subscribe(1, "Audit", {"level": level}))["op"] == "subscribed"
        await rest.create("Audit", {"level": level})
        got = await c.recv()
    assert (got["op"] if answer == "create" else got) == answer


# -- the seam: only what is registered costs anything -------------------------------------------

@dataclass
class _Runtime:
    """What the hooks ask of the runtime when nothing runs: the cloud module in use."""

    cloud: Cloud | None


def test_a_cloud_without_livequery_triggers_adds_no_hook():
    cloud = Cloud()

    @cloud.before_save("Message")
    async def noop(req):
        pass

    assert hooks_for(_Runtime(None)) is NO_HOOKS and hooks_for(_Runtime(cloud)) is NO_HOOKS


def test_only_registered_triggers_are_active_and_only_their_classes_lose_shared_bodies():
    cloud = Cloud()

    @cloud.after_live_query_event("Message")
    async def event(req):
        pass

    hooks = hooks_for(_Runtime(cloud))
    assert hooks.active("before_connect") is None and hooks.active("before_subscribe") is None
    assert hooks.active("after_event") is not None
    assert hooks.after_event_on("Message") and not hooks.after_event_on("Plain")


def test_a_reloaded_cloud_module_s_triggers_take_over_at_once():
    old, new = Cloud(), Cloud()
    old.after_live_query_event("Message")(lambda req: None)
    new.after_live_query_event("Chat")(lambda req: None)
    rt = _Runtime(old)
    hooks = hooks_for(rt)
    assert hooks.after_event_on("Message") and not hooks.after_event_on("Chat")
    rt.cloud = new  # what a --dev reload does (Runtime.use_cloud)
    assert hooks.after_event_on("Chat") and not hooks.after_event_on("Message")
    # A kind the first module lacked is called only when every kind is made active (--dev).
    assert hooks.active("before_connect") is None
    assert hooks_for(rt, every_kind=True).active("before_connect") is not None


@pytest.mark.parametrize("build, where", [
    (lambda q: q.equal_to("a", 1), {"a": 1, "b": {"$gt": 0}}),
    (lambda q: q.greater_than("b", 5).less_than("b", 9), {"b": {"$gt": 5, "$lt": 9}}),
    (lambda q: q.contained_in("c", ("x", "y")), {"b": {"$gt": 0}, "c": {"$in": ["x", "y"]}}),
    (lambda q: q.equal_to("p", {"__type": "Pointer", "className": "A", "objectId": "i"}).exists("p"),
     {"b": {"$gt": 0}, "p": {"$exists": True}}),
    (lambda q: q.does_not_exist("b"), {"b": {"$gt": 0, "$exists": False}}),
])
def test_subscription_query_constraints_combine_as_parse_querys(build, where):
    query = SubscriptionQuery("A", {"b": {"$gt": 0}}, None, None)
    build(query)
    assert query.where == where


async def test_after_event_runs_on_the_events_a_resuming_subscriber_missed(server):
    rest = Rest(server)
    room = "resume-" + secrets.token_hex(4)
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        subscribed = await c.subscribe(1, "Message", {"room": room})
    await rest.create("Message", {"room": room, "text": "missed"})
    await rest.create("Message", {"room": room, "text": "missed, hidden", "onlyFor": "someone"})
    async with open_websocket_url(ws_url(server)) as ws:
        c = await _connected(ws, server)
        assert (await c.subscribe(2, "Message", {"room": room}, position=subscribed["position"]))["op"] == "subscribed"
        await rest.create("Message", {"room": room, "text": "live"})
        got = [await c.recv() for _ in range(2)]
        await c.nothing()
    assert [(m["op"], m["object"]["text"], m["object"]["seenBy"]) for m in got] == [
        ("create", "missed", "anonymous"), ("create", "live", "anonymous")]


_COMPARISONS = {"greater_than": operator.gt, "greater_than_or_equal_to": operator.ge, "less_than": operator.lt,
                "less_than_or_equal_to": operator.le, "not_equal_to": operator.ne}


@given(constraints=st.lists(st.tuples(st.sampled_from(sorted(_COMPARISONS)), st.sampled_from("ab"),
                                      st.integers(-3, 3)), max_size=6),
       obj=st.fixed_dictionaries({"a": st.integers(-4, 4), "b": st.integers(-4, 4)}))
def test_a_narrowed_subscription_matches_exactly_what_every_constraint_allows(constraints, obj):
    """Whatever comparisons a trigger adds, the subscription keeps an object iff each holds
    (a later constraint of the same kind on a field replaces the earlier, as in Parse.Query)."""
    query = SubscriptionQuery("A", {}, None, None)
    last: dict[tuple[str, str], int] = {}
    for method, key, value in constraints:
        getattr(query, method)(key, value)
        last[(method, key)] = value
    expected = all(_COMPARISONS[method](obj[key], value) for (method, key), value in last.items())
    assert matches(parse_where(query.where), {"objectId": "x", **obj}) == expected
