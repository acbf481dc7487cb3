"""Cloud Code's triggers over REST, against a real server: before_save (a refusal with its code,
nothing written; its changes stored and answered; a plain exception as 141), after_save (the
written object and `original`), before/after_delete, before/after_find (a narrowed or replaced
query, objects instead of a query, results replaced), the account triggers (login, logout,
password reset request), the client's context on saves, deletes and batches (107 when it is not
an object), a batch whose rejected sub-request fails alone, and Parse's validator options with
their messages; a class without triggers is untouched."""

from __future__ import annotations

import json
import textwrap

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud
from tests.api.mail_helpers import adapter_flag, smtp_server

CLOUD = textwrap.dedent('''
    from parsnip.cloud import Cloud, ParseError, ParseQuery

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

    EVENTS = []

    @cloud.define("events")
    async def events(req):
        return [e for e in EVENTS if e["trigger"] == req.params["trigger"]]

    @cloud.before_delete("Locked")
    async def locked(req):
        if req.object.get("locked") is True:
            raise ParseError(ParseError.OPERATION_FORBIDDEN, "object is locked")
        req.context["checked"] = True

    @cloud.after_delete("Locked")
    async def deleted(req):
        EVENTS.append({"trigger": req.trigger_name, "id": req.object.id, "name": req.object.get("name"),
                       "context": dict(req.context)})

    @cloud.before_find("Secret")
    async def only_public(req):
        if not req.master:
            req.query.equal_to("public", True)
        EVENTS.append({"trigger": req.trigger_name, "count": req.count, "is_get": req.is_get,
                       "context": dict(req.context)})

    @cloud.after_find("Secret")
    async def mark(req):
        for obj in req.objects:
            obj.set("seen", True)

    @cloud.before_find("Ordered")
    async def top_two(req):
        req.query.descending("n").limit(2).select("n")

    @cloud.before_find("Replaced")
    async def replaced(req):
        return ParseQuery("Replaced").greater_than("n", 1)

    @cloud.before_find("Canned")
    async def canned(req):
        return [{"name": "canned", "n": 1}, {"name": "also canned", "n": 2}]

    @cloud.after_find("Trimmed")
    async def first_only(req):
        return req.objects[:1]

    @cloud.before_login()
    async def no_banned(req):
        if req.object.get("banned"):
            raise ParseError(ParseError.OPERATION_FORBIDDEN, "banned users may not log in")
        EVENTS.append({"trigger": req.trigger_name, "username": req.object.get("username"),
                       "user": req.user_id})

    @cloud.after_login()
    async def logged_in(req):
        EVENTS.append({"trigger": req.trigger_name, "username": req.object.get("username"), "user": req.user.id})

    @cloud.after_logout()
    async def logged_out(req):
        EVENTS.append({"trigger": req.trigger_name, "session": req.object.id, "user": req.user_id,
                       "class": req.object.class_name})

    @cloud.before_password_reset_request()
    async def no_reset(req):
        if req.object.get("noReset"):
            raise ParseError(ParseError.OPERATION_FORBIDDEN, "no reset for this account")
        EVENTS.append({"trigger": req.trigger_name, "email": req.object.get("email")})

    @cloud.before_save("Staff", require_any_user_roles=["admin", "editor"])
    async def staff(req):
        pass

    @cloud.before_save("Board", require_all_user_roles=lambda: ["admin", "editor"])
    async def board(req):
        pass

    @cloud.before_save("Profiled", require_user_keys=["nickname"])
    async def profiled(req):
        pass

    @cloud.before_save("Skipped", skip_with_master_key=True)
    async def skipped(req):
        raise ParseError(ParseError.VALIDATION_ERROR, "only with the master key")

    @cloud.before_save("_User", require_user=True)  # a signup counts as its own user, as in Parse
    async def stamp_user(req):
        if req.original is None:
            req.object.set("signedUpVia", "cloud")

    @cloud.before_save("Constant", fields={"kind": {"constant": True, "default": "basic"}})
    async def constant(req):
        pass
''')


@pytest.fixture(scope="module")
def inbox():
    with smtp_server() as (box, port):
        yield box, port


@pytest.fixture(scope="module")
def server(admin_dsn, tmp_path_factory, inbox):
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("cloud"), CLOUD, *adapter_flag(inbox[1])) as info:
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


# -- helpers ---------------------------------------------------------------------------------

def _master(server) -> dict:
    return {"X-Parse-Master-Key": server.master_key}


def _events(api, trigger: str) -> list[dict]:
    return api.post("/functions/events", json={"trigger": trigger}).json()["result"]


def _signup(api, username: str, **fields) -> tuple[str, str]:
    r = api.post("/users", json={"username": username, "password": "pw-" + username, **fields})
    assert r.status_code == 201, r.text
    return r.json()["objectId"], r.json()["sessionToken"]


def _ptr(cls: str, oid: str) -> dict:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


# -- delete ----------------------------------------------------------------------------------

def test_before_delete_refuses_with_its_code_and_after_delete_sees_the_stored_object(api):
    kept = api.post("/classes/Locked", json={"name": "kept", "locked": True}).json()["objectId"]
    gone = api.post("/classes/Locked", json={"name": "gone", "locked": False}).json()["objectId"]
    r = api.delete(f"/classes/Locked/{kept}")
    assert (r.status_code, r.json()) == (400, {"code": 119, "error": "object is locked"})
    assert api.get(f"/classes/Locked/{kept}").status_code == 200
    r = api.delete(f"/classes/Locked/{gone}", headers={"X-Parse-Cloud-Context": json.dumps({"why": "tidy"})})
    assert (r.status_code, r.json()) == (200, {})
    assert api.get(f"/classes/Locked/{gone}").json()["code"] == 101
    assert [e for e in _events(api, "afterDelete") if e["id"] == gone] == [
        {"trigger": "afterDelete", "id": gone, "name": "gone", "context": {"why": "tidy", "checked": True}}]
    assert not [e for e in _events(api, "afterDelete") if e["id"] == kept]


# -- find ------------------------------------------------------------------------------------

def test_before_find_narrows_the_query_and_after_find_changes_the_results(api, server):
    for name, public in (("open", True), ("hidden", False)):
        api.post("/classes/Secret", json={"name": name, "public": public}, headers=_master(server))
    r = api.get("/classes/Secret", headers={"X-Parse-Cloud-Context": json.dumps({"asked": "find"})})
    assert [(o["name"], o["seen"]) for o in r.json()["results"]] == [("open", True)]
    as_master = api.get("/classes/Secret", params={"order": "name"}, headers=_master(server)).json()["results"]
    assert [o["name"] for o in as_master] == ["hidden", "open"]
    assert api.get("/classes/Secret", params={"count": 1, "limit": 0}).json() == {"results": [], "count": 1}
    hidden = as_master[0]["objectId"]
    assert api.get(f"/classes/Secret/{hidden}").json()["code"] == 101  # a get passes the trigger too
    seen = _events(api, "beforeFind")
    assert {"trigger": "beforeFind", "count": False, "is_get": False, "context": {"asked": "find"}} in seen
    assert {"trigger": "beforeFind", "count": True, "is_get": False, "context": {}} in seen
    assert {"trigger": "beforeFind", "count": False, "is_get": True, "context": {}} in seen


def test_before_find_changes_order_limit_and_keys(api):
    for n in (1, 3, 2, 5, 4):
        api.post("/classes/Ordered", json={"n": n, "other": "x"})
    results = api.get("/classes/Ordered").json()["results"]
    assert [o["n"] for o in results] == [5, 4]
    assert all("other" not in o for o in results)


def test_a_query_returned_by_before_find_is_run_instead(api):
    for n in (1, 2, 3):
        api.post("/classes/Replaced", json={"n": n})
    assert sorted(o["n"] for o in api.get("/classes/Replaced").json()["results"]) == [2, 3]


def test_objects_returned_by_before_find_are_the_answer(api, server):
    api.post("/classes/Canned", json={"name": "stored"}, headers=_master(server))
    r = api.get("/classes/Canned")
    assert r.status_code == 200
    assert r.json() == {"results": [{"name": "canned", "n": 1}, {"name": "also canned", "n": 2}]}


def test_after_find_may_replace_the_results(api):
    for n in (1, 2, 3):
        api.post("/classes/Trimmed", json={"n": n})
    assert len(api.get("/classes/Trimmed").json()["results"]) == 1


# -- accounts --------------------------------------------------------------------------------

def test_before_login_refuses_with_its_error_and_after_login_sees_the_user(api):
    user_id, _ = _signup(api, "carol")
    r = api.post("/login", json={"username": "carol", "password": "pw-carol"})
    assert r.status_code == 200 and r.json()["objectId"] == user_id
    assert {"trigger": "beforeLogin", "username": "carol", "user": None} in _events(api, "beforeLogin")
    assert {"trigger": "afterLogin", "username": "carol", "user": user_id} in _events(api, "afterLogin")
    _signup(api, "mallory", banned=True)
    r = api.post("/login", json={"username": "mallory", "password": "pw-mallory"})
    assert (r.status_code, r.json()) == (400, {"code": 119, "error": "banned users may not log in"})
    assert not [e for e in _events(api, "afterLogin") if e["username"] == "mallory"]


def test_after_logout_sees_the_ended_session(api):
    user_id, token = _signup(api, "dave")
    session = api.get("/sessions/me", headers={"X-Parse-Session-Token": token}).json()["objectId"]
    assert api.post("/logout", headers={"X-Parse-Session-Token": token}).json() == {}
    assert {"trigger": "afterLogout", "session": session, "user": user_id, "class": "_Session"} in \
        _events(api, "afterLogout")


def test_before_password_reset_request_may_refuse(api):
    _signup(api, "erin", email="erin@example.com")
    _signup(api, "frank", email="frank@example.com", noReset=True)
    assert api.post("/requestPasswordReset", json={"email": "erin@example.com"}).json() == {}
    assert {"trigger": "beforePasswordResetRequest", "email": "erin@example.com"} in \
        _events(api, "beforePasswordResetRequest")
    r = api.post("/requestPasswordReset", json={"email": "frank@example.com"})
    assert (r.status_code, r.json()) == (400, {"code": 119, "error": "no reset for this account"})


def test_user_triggers_run_on_signup_and_their_changes_are_stored(api):
    user_id, token = _signup(api, "ivan")
    me = api.get("/users/me", headers={"X-Parse-Session-Token": token}).json()
    assert (me["objectId"], me["signedUpVia"]) == (user_id, "cloud")
    r = api.put(f"/users/{user_id}", json={"signedUpVia": "changed"}, headers={"X-Parse-Session-Token": token})
    assert r.status_code == 200
    assert api.get("/users/me", headers={"X-Parse-Session-Token": token}).json()["signedUpVia"] == "changed"


# -- context and batch -----------------------------------------------------------------------

def test_the_clients_context_reaches_before_save_and_after_save(api):
    r = api.post("/classes/Review", json={"stars": 3}, headers={"X-Parse-Cloud-Context": '{"source": "header"}'})
    oid = r.json()["objectId"]
    [after] = [a for a in api.post("/functions/afterSaves").json()["result"] if a["id"] == oid]
    assert after["context"] == {"source": "header", "seen": "beforeSave"}


@pytest.mark.parametrize("context", ["[1]", "3", "not json", '"text"'])
def test_a_context_that_is_not_an_object_is_107(api, context):
    r = api.post("/classes/Review", json={"stars": 3}, headers={"X-Parse-Cloud-Context": context})
    assert (r.status_code, r.json()) == (400, {"code": 107, "error": "Invalid object for context."})


def test_in_a_batch_a_trigger_refusal_fails_only_its_sub_request(api, server):
    locked = api.post("/classes/Locked", json={"name": "batch-kept", "locked": True}).json()["objectId"]
    r = api.post("/batch", headers={"X-Parse-Cloud-Context": '{"via": "batch"}'}, json={"requests": [
        {"method": "POST", "path": "/parse/classes/Review", "body": {"stars": 2, "comment": " a "}},
        {"method": "POST", "path": "/parse/classes/Review", "body": {"stars": 9}},
        {"method": "DELETE", "path": f"/parse/classes/Locked/{locked}"},
        {"method": "POST", "path": "/parse/classes/Review", "body": {"stars": 5}},
    ]})
    first, refused, kept, last = r.json()
    assert first["success"]["comment"] == "a"
    assert refused == {"error": {"code": 142, "error": "stars must be between 1 and 5"}}
    assert kept == {"error": {"code": 119, "error": "object is locked"}}
    assert "objectId" in last["success"]
    ids = {first["success"]["objectId"], last["success"]["objectId"]}
    contexts = [a["context"] for a in api.post("/functions/afterSaves").json()["result"] if a["id"] in ids]
    assert contexts == [{"via": "batch", "seen": "beforeSave"}] * 2


# -- validators ------------------------------------------------------------------------------

def test_require_any_and_all_user_roles(api, server):
    anna, anna_token = _signup(api, "anna")
    bob, bob_token = _signup(api, "bob")
    for role, members in (("admin", [anna]), ("editor", [anna, bob])):
        r = api.post("/roles", headers=_master(server), json={
            "name": role, "ACL": {"*": {"read": True}},
            "users": {"__op": "AddRelation", "objects": [_ptr("_User", m) for m in members]}})
        assert r.status_code == 201, r.text
    nobody = api.post("/classes/Staff", json={"a": 1})
    assert nobody.json() == {"code": 142, "error": "Validation failed. Please login to continue."}
    assert api.post("/classes/Staff", json={"a": 1}, headers={"X-Parse-Session-Token": bob_token}).status_code == 201
    r = api.post("/classes/Board", json={"a": 1}, headers={"X-Parse-Session-Token": bob_token})
    assert r.json() == {"code": 142, "error": "Validation failed. User does not match all the required roles."}
    assert api.post("/classes/Board", json={"a": 1}, headers={"X-Parse-Session-Token": anna_token}).status_code == 201
    _, carl_token = _signup(api, "carl")
    r = api.post("/classes/Staff", json={"a": 1}, headers={"X-Parse-Session-Token": carl_token})
    assert r.json() == {"code": 142, "error": "Validation failed. User does not match the required roles."}


def test_require_user_keys(api):
    _, plain = _signup(api, "gina")
    _, named = _signup(api, "hank", nickname="H")
    r = api.post("/classes/Profiled", json={"a": 1}, headers={"X-Parse-Session-Token": plain})
    assert r.json() == {"code": 142, "error": "Validation failed. Please set data for nickname on your account."}
    assert api.post("/classes/Profiled", json={"a": 1}, headers={"X-Parse-Session-Token": named}).status_code == 201
    assert api.post("/classes/Profiled", json={"a": 1}).json() == {
        "code": 142, "error": "Please login to make this request."}


def test_skip_with_master_key_does_not_run_the_trigger(api, server):
    assert api.post("/classes/Skipped", json={"a": 1}).json() == {"code": 142, "error": "only with the master key"}
    assert api.post("/classes/Skipped", json={"a": 1}, headers=_master(server)).status_code == 201


def test_a_constant_field_keeps_its_default_and_its_stored_value(api):
    oid = api.post("/classes/Constant", json={"kind": "premium"}).json()["objectId"]
    assert api.get(f"/classes/Constant/{oid}").json()["kind"] == "basic"
    assert api.put(f"/classes/Constant/{oid}", json={"kind": "gold", "n": 1}).status_code == 200
    stored = api.get(f"/classes/Constant/{oid}").json()
    assert (stored["kind"], stored["n"]) == ("basic", 1)


def test_rate_limit_is_still_refused_at_registration():
    from parsnip.cloud import Cloud

    with pytest.raises(NotImplementedError):
        Cloud().define("x", rate_limit={"requestCount": 1})
