"""Cloud Code's before_save and after_save triggers on REST saves, against a real server:
a before_save refusal (its code, nothing written), its changes stored and answered, a plain
exception as 141, after_save seeing the written object and `original`, and a class without
triggers untouched."""

from __future__ import annotations

import textwrap

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud

CLOUD = textwrap.dedent('''
    from parsnip.cloud import Cloud, ParseError

    cloud = Cloud()
    AFTER = []

    @cloud.before_save("Review")
    async def check(req):
        if not 1 <= req.object.get("stars", 0) <= 5:
            raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
        req.object.set("comment", (req.object.get("comment") or "").strip())
        req.context["seen"] = req.trigger_name

    @cloud.after_save("Review")
    def audit(req):  # a plain def: in a worker thread
        AFTER.append({"id": req.object.id, "stars": req.object.get("stars"), "created": req.original is None,
                      "context": dict(req.context), "trigger": req.trigger_name})

    @cloud.before_save("Broken")
    async def broken(req):
        raise KeyError("nope")

    @cloud.before_save("Guarded", require_master=True)
    async def guarded(req):
        pass

    @cloud.define("afterSaves")
    async def after_saves(req):
        return AFTER
''')


@pytest.fixture(scope="module")
def server(admin_dsn, tmp_path_factory):
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("cloud"), CLOUD) as info:
        yield info


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as client:
        yield client


def test_a_before_save_refusal_keeps_its_code_and_writes_nothing(api):
    r = api.post("/classes/Review", json={"stars": 9, "comment": "x"})
    assert (r.status_code, r.json()) == (400, {"code": 142, "error": "stars must be between 1 and 5"})
    assert api.get("/classes/Review", params={"where": '{"stars": 9}'}).json() == {"results": []}


def test_before_save_changes_are_stored_and_answered_and_after_save_sees_them(api):
    r = api.post("/classes/Review", json={"stars": 4, "comment": "  good  "})
    assert r.status_code == 201
    created = r.json()
    assert created.get("comment") == "good"  # Parse answers the fields a beforeSave changed
    stored = api.get(f"/classes/Review/{created['objectId']}").json()
    assert (stored["stars"], stored["comment"]) == (4, "good")
    r = api.put(f"/classes/Review/{created['objectId']}", json={"stars": 5})
    assert r.status_code == 200
    after = [a for a in api.post("/functions/afterSaves").json()["result"] if a["id"] == created["objectId"]]
    assert after == [
        {"id": created["objectId"], "stars": 4, "created": True, "context": {"seen": "beforeSave"},
         "trigger": "afterSave"},
        {"id": created["objectId"], "stars": 5, "created": False, "context": {"seen": "beforeSave"},
         "trigger": "afterSave"},
    ]


def test_a_plain_exception_in_before_save_is_141(api):
    r = api.post("/classes/Broken", json={"a": 1})
    assert (r.status_code, r.json()["code"]) == (400, 141)
    assert api.get("/classes/Broken").json() == {"results": []}


def test_a_trigger_validator_answers_with_parses_message(api, server):
    r = api.post("/classes/Guarded", json={"a": 1})
    assert r.json() == {"code": 142, "error": "Validation failed. Master key is required to complete this request."}
    r = api.post("/classes/Guarded", json={"a": 1}, headers={"X-Parse-Master-Key": server.master_key})
    assert r.status_code == 201


def test_a_class_without_triggers_saves_as_before(api):
    r = api.post("/classes/Plain", json={"comment": "  kept  "})
    assert r.status_code == 201 and "comment" not in r.json()
    assert api.get(f"/classes/Plain/{r.json()['objectId']}").json()["comment"] == "  kept  "
