"""Random LiveQuery messages against a real server over a real websocket (bounded: 300 examples,
PARSNIP_LIVEQUERY_FUZZ_EXAMPLES to change it). Every message gets nothing or well-formed
replies, never a traceback; afterwards objects are written to the classes the random
subscriptions watch (so the dispatcher meets them too) and the node still serves a valid
subscribe and REST.
"""

from __future__ import annotations

import json
import os
import secrets

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trio_websocket import open_websocket_url

from tests.livequery.live_helpers import Client, Rest, connected, ws_url
from tests.livequery.test_containment import assert_node_serves

_EXAMPLES = int(os.environ.get("PARSNIP_LIVEQUERY_FUZZ_EXAMPLES", "300"))
_CLASSES = ("Fuzz", "Fuzz", "Fuzz", "Fuzz2", "_User", "_Session", "")
_FIELDS = ("a", "b", "n", "s", "d", "p", "arr", "objectId", "createdAt", "updatedAt", "ACL", "o.k", "$or",
           "a.0", "", "$bad", "_hashed_password", "authData.x")
_OPERATORS = ("$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$all", "$exists", "$regex", "$options",
              "$containedBy", "$select", "$dontSelect", "$inQuery", "$notInQuery", "$relatedTo", "$text",
              "$nearSphere", "$maxDistance", "$maxDistanceInRadians", "$maxDistanceInKilometers", "$within",
              "$geoWithin", "$geoIntersects", "$relativeTime", "$foo", "$and", "$or", "$nor")
_TYPES = ("Date", "Pointer", "GeoPoint", "File", "Bytes", "Polygon", "Relation", "Object", "Nope")
_ODD_STRINGS = ("", "in 99999999999999999 years", "3 days ago", "now", "(", "^(a+)+$", r"^(a|aa)+\1$",
                "\\Q.*\\E", "[", "a{1,65535}", "\x00", "é", "2020-01-01T00:00:00.000Z", "not a date",
                "(?<=a)b", "\\", "$or", "__type")

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_ODD_STRINGS), st.text(max_size=8))


def _typed():
    return st.fixed_dictionaries({"__type": st.one_of(st.sampled_from(_TYPES), _scalars, st.lists(_scalars, max_size=1),
                                                      st.dictionaries(st.text(max_size=3), _scalars, max_size=1))},
                                 optional={"iso": _scalars, "className": _scalars, "objectId": _scalars,
                                           "latitude": _scalars, "longitude": _scalars, "name": _scalars,
                                           "coordinates": st.lists(st.lists(_scalars, max_size=2), max_size=3),
                                           "base64": _scalars})


_json = st.recursive(
    st.one_of(_scalars, _typed()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8)


_plain = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "x", ""]), st.booleans(), st.none())


def _constraint():
    """Mostly what a query would hold (plain values, operators with values of about the right
    kind), sometimes anything at all."""
    operand = st.one_of(_plain, st.lists(_plain, max_size=3), st.sampled_from(_ODD_STRINGS), _typed(), _json)
    operators = st.dictionaries(st.sampled_from(_OPERATORS), operand, min_size=1, max_size=2)
    return st.one_of(_plain, _plain, operators, operators, operators, _typed(), _json)


_where = st.recursive(
    st.dictionaries(st.sampled_from(_FIELDS), _constraint(), max_size=3),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(("$or", "$and", "$nor")), st.lists(inner, max_size=3), min_size=1, max_size=1),
        st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=2)),
    max_leaves=6)

_names = st.one_of(st.lists(st.sampled_from(_FIELDS), min_size=1, max_size=3, unique=True), _json)


def _sometimes(draw, value, odds: int = 8):
    """`value` most of the time; once in `odds`, anything."""
    return draw(_json) if draw(st.randoms(use_true_random=True)).random() < 1 / odds else value


def _request_id(draw):
    return _sometimes(draw, draw(st.integers(0, 50)), 6)


@st.composite
def _messages(draw) -> str:
    kind = draw(st.randoms(use_true_random=True)).choice(
        ["subscribe"] * 6 + ["update", "unsubscribe", "connect", "other op", "not an object", "not json"])
    if kind == "not json":
        return draw(st.text(max_size=30))
    if kind == "not an object":
        return json.dumps(draw(_json))
    message: dict = {"op": kind if kind != "other op" else draw(_json)}
    if kind == "connect":
        message.update(draw(st.dictionaries(
            st.sampled_from(["applicationId", "sessionToken", "installationId", "masterKey", "clientKey", "x"]),
            st.one_of(st.just("test-app"), _scalars), max_size=3)))
        return json.dumps(message)
    if kind != "unsubscribe" or draw(st.integers(0, 4)):
        message["requestId"] = _request_id(draw)
    if kind in ("subscribe", "update"):
        rnd = draw(st.randoms(use_true_random=True))
        query = {"className": _sometimes(draw, rnd.choice(_CLASSES), 12), "where": _sometimes(draw, draw(_where), 12)}
        for name in ("keys", "watch", "fields"):
            if rnd.random() < 0.15:
                query[name] = draw(_names)
        message["query"] = _sometimes(draw, query, 12)
        if rnd.random() < 0.1:
            message["sessionToken"] = draw(_scalars)
        if rnd.random() < 0.1:
            message["position"] = _sometimes(draw, draw(st.integers(0, 10**6)), 3)
    return json.dumps(message)


_EVENT_OPS = {"create", "enter", "update", "leave", "delete"}


def _check_reply(text: str) -> dict:
    assert "Traceback" not in text and 'File "' not in text, text
    reply = json.loads(text)
    assert isinstance(reply, dict) and isinstance(reply.get("op"), str), text
    op = reply["op"]
    if op == "error":
        assert set(reply) == {"op", "error", "code", "reconnect", "requestId"}, text
        assert isinstance(reply["code"], int) and reply["code"] > 0, text
        assert isinstance(reply["error"], str) and reply["error"], text
        assert isinstance(reply["reconnect"], bool), text
        assert reply["requestId"] is None or isinstance(reply["requestId"], (int, float)), text
    elif op in ("connected", "subscribed", "unsubscribed"):
        assert isinstance(reply["clientId"], str), text
    else:
        assert op in _EVENT_OPS and isinstance(reply.get("object"), dict), text
    return reply


_objects = st.dictionaries(
    st.sampled_from(["a", "b", "n", "s", "arr", "o", "d", "p"]),
    st.one_of(_plain, st.lists(_plain, max_size=3), st.text(max_size=20), st.just("a" * 30 + "!"),
              st.fixed_dictionaries({"k": _plain}), st.just({"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"})),
    max_size=4)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
async def test_random_messages_get_well_formed_replies_and_the_node_goes_on(strict_server):
    """Each random message is followed by a marker that always gets an answer (an unsubscribe
    of an unknown requestId, code 2): whatever comes before the marker's answer is that
    message's. A subscription it made then meets a random object written to its class (the
    dispatcher's side) and is unsubscribed, so the connection's limit is never reached."""
    marks = iter(range(1, 10**9))
    rest = Rest(strict_server)
    async with open_websocket_url(ws_url(strict_server), max_message_size=1 << 24) as ws:
        c = Client(ws)
        await c.send(op="connect", applicationId=strict_server.app_id)
        assert (await c.recv())["op"] == "connected"

        async def replies_until(done) -> list[dict]:
            got = []
            with trio.fail_after(10):
                while True:
                    reply = _check_reply(await ws.get_message())
                    if done(reply):
                        return got
                    got.append(reply)

        async def one(text: str, obj: dict) -> None:
            mark = -next(marks) - 0.5
            await ws.send_message(text)
            await ws.send_message(json.dumps({"op": "unsubscribe", "requestId": mark}))
            got = await replies_until(lambda r: f"subscriptionId {json.dumps(mark)}." in r.get("error", ""))
            for reply in got:
                if reply["op"] != "subscribed":
                    continue
                cls = json.loads(text)["query"]["className"]
                if cls and not cls.startswith("_"):
                    async with httpx.AsyncClient(base_url=rest.url, timeout=30) as http:
                        await http.post(f"/classes/{cls}", json=obj,
                                        headers={"X-Parse-Application-Id": rest.app, **rest.master})
                rid = reply["requestId"]
                await c.send(op="unsubscribe", requestId=rid)
                await replies_until(lambda r: r["op"] == "unsubscribed" and r["requestId"] == rid)

        def run() -> None:
            @settings(max_examples=_EXAMPLES, deadline=None, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
            @given(_messages(), _objects)
            def check(text: str, obj: dict) -> None:
                trio.from_thread.run(one, text, obj)

            check()

        await trio.to_thread.run_sync(run)

    async with open_websocket_url(ws_url(strict_server)) as ws:
        c = await connected(ws, strict_server)
        await assert_node_serves(strict_server, c)
        cls = "Fuzz" + secrets.token_hex(3)
        assert (await c.subscribe(1, cls, {"a": 1}))["op"] == "subscribed"
        await Rest(strict_server).create(cls, {"a": 1})
        assert (await c.recv())["op"] == "create"
