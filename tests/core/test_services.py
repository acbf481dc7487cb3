"""The services called as Cloud Code, GraphQL or history will call them: no HTTP, a Caller
and plain arguments in, domain results out, with the same permissions REST has."""

from __future__ import annotations

import json

import pytest

from parsnip.core.errors import ParseError, Unauthorized
from parsnip.core.security.auth import MASTER, NOBODY, Auth
from parsnip.core.services import aggregate, installations, objects, users
from parsnip.core.services.access import Refusal, require_master, require_writable
from parsnip.core.services.base import Caller
from parsnip.core.services.classes import service_for

MASTER_CALLER = Caller(MASTER, request_id="r-1", client_ip="10.0.0.9")


async def test_objects_round_trip_without_http(runtime):
    saved = await objects.create(runtime, MASTER_CALLER, "Game", {"score": 3, "n": {"__op": "Increment", "amount": 2}})
    assert saved.created and saved.body["n"] == 2 and saved.body["objectId"] == saved.object_id
    got = json.loads(await objects.get(runtime, MASTER_CALLER, "Game", saved.object_id, {}))
    assert got["score"] == 3 and got["objectId"] == saved.object_id
    await objects.update(runtime, MASTER_CALLER, "Game", saved.object_id, {"score": 5})
    found = await objects.find(runtime, MASTER_CALLER, "Game", {"where": {"score": {"$gt": 4}}, "count": 1})
    assert [json.loads(t)["score"] for t in found.results] == [5] and found.count == 1
    assert json.loads(found.text()) == {"results": [json.loads(found.results[0])], "count": 1}
    assert await objects.count(runtime, MASTER_CALLER, "Game", {"score": 5}) == 1
    await objects.delete(runtime, MASTER_CALLER, "Game", saved.object_id)
    assert await objects.count(runtime, MASTER_CALLER, "Game") == 0


async def test_a_write_records_the_callers_context(runtime):
    from parsnip.core import log as event_log

    saved = await objects.create(runtime, MASTER_CALLER, "Audit", {"a": 1})

    async def last_event(conn):
        return (await event_log.read_after(conn, 0))[-1]

    event = await runtime.read(last_event)
    assert event.object_id == saved.object_id
    assert (event.context.request_id, event.context.client_ip, event.context.master) == ("r-1", "10.0.0.9", True)


async def test_the_callers_acl_holds_for_services_as_for_rest(runtime):
    alice = Caller(Auth(user_id="alice"))
    saved = await objects.create(runtime, alice, "Note", {"ACL": {"alice": {"read": True, "write": True}}})
    assert await objects.count(runtime, alice, "Note") == 1
    assert await objects.count(runtime, Caller(NOBODY), "Note") == 0
    with pytest.raises(ParseError) as e:
        await objects.get(runtime, Caller(NOBODY), "Note", saved.object_id, {})
    assert e.value.code == ParseError.OBJECT_NOT_FOUND  # hidden answers as missing does


async def test_signup_then_me_and_login(runtime):
    signed = await users.signup(runtime, Caller(NOBODY), {"username": "ann", "password": "pw"})
    token = signed.body["sessionToken"]
    assert signed.created and token.startswith("r:")
    ann = await runtime.authenticate(token)
    me = json.loads(await users.me(runtime, Caller(ann)))
    assert me["username"] == "ann" and me["sessionToken"] == token and "password" not in me
    logged = json.loads(await users.login(runtime, Caller(NOBODY), {"username": "ann", "password": "pw"}))
    assert logged["objectId"] == signed.object_id and logged["sessionToken"] != token
    with pytest.raises(ParseError) as e:
        await users.login(runtime, Caller(NOBODY), {"username": "ann", "password": "nope"})
    assert e.value.code == ParseError.OBJECT_NOT_FOUND


async def test_each_class_has_its_service(runtime):
    assert service_for("_User") is users and service_for("_Installation") is installations
    assert service_for("_Role") is objects and service_for("Game") is objects
    with pytest.raises(ParseError) as e:  # Parse's REST layer: 119 for a client listing devices
        await installations.find(runtime, Caller(NOBODY), "_Installation", {})
    assert (e.value.code, e.value.message) == (ParseError.OPERATION_FORBIDDEN, "Permission denied")
    with pytest.raises(Unauthorized) as refused:  # Parse's middleware: 403
        await aggregate.aggregate(runtime, Caller(NOBODY), "Game", {"pipeline": []})
    assert (refused.value.status, refused.value.message) == (403, "Permission denied")


def test_one_master_key_check_with_parses_two_answers():
    require_master(MASTER)
    require_master(Auth(master=True, read_only=True))  # the read-only master key reads
    with pytest.raises(Unauthorized):
        require_master(NOBODY)
    with pytest.raises(ParseError) as e:
        require_master(Auth(user_id="u"), Refusal.FORBIDDEN)
    assert e.value.code == ParseError.OPERATION_FORBIDDEN
    with pytest.raises(ParseError) as e:
        require_writable(Auth(master=True, read_only=True))
    assert e.value.message == "read-only masterKey isn't allowed to perform the create operation."
