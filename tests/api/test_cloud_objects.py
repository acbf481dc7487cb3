"""ParseObject and ParseQuery in Cloud Code, against a real server started with `--cloud`:
objects created, read, changed and destroyed in-process as the master key, a session's user or
a client with no session (ACLs and class-level permissions apply), queries with Parse's
constraints, include and subqueries, Parse values in and out (Date, Pointer, Object, nested),
`req.user`, and save triggers working on `req.object` / `req.original` as ParseObjects."""

from __future__ import annotations

import secrets
import textwrap

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud
from tests.conftest import ROOT

CLOUD = textwrap.dedent('''
    from datetime import datetime, timezone

    import trio

    from parsnip.cloud import Cloud, ParseError, ParseObject, ParseQuery

    cloud = Cloud()


    def acting(req):
        """How a test asks a function to act: the master key, the caller's session, a token, or nobody."""
        how = req.params.get("as")
        if how == "master":
            return {"master": True}
        if how == "user":
            return {"session_token": req.user.session_token}
        if how == "token":
            return {"session_token": req.params["token"]}
        return {}


    def build(spec):
        """A ParseQuery from {"className", "calls": [[method, *args], ...]}; an argument that is
        itself such a spec (a dict with "calls") is a subquery."""
        query = ParseQuery(spec["className"])
        for method, *args in spec.get("calls", []):
            args = [build(a) if isinstance(a, dict) and "calls" in a else a for a in args]
            query = getattr(query, method)(*args)  # each returns the query (or_: the combined one)
        return query


    @cloud.define("query")
    async def query(req):
        q, run = build(req.params), req.params.get("run", "find")
        if run == "get":
            return await q.get(req.params["id"], **acting(req))
        return await getattr(q, run)(**acting(req))


    @cloud.define("countInThread")
    def count_in_thread(req):  # a plain def runs in a worker thread: it reaches trio to await
        return trio.from_thread.run(ParseQuery("Note").count)


    @cloud.define("create")
    async def create(req):
        return await ParseObject(req.params["className"], req.params.get("fields")).save(**acting(req))


    @cloud.define("change")
    async def change(req):
        obj = ParseObject(req.params["className"])
        obj.id = req.params["id"]
        for method, *args in req.params["calls"]:
            getattr(obj, method)(*args)
        await obj.save(**acting(req))
        return {name: obj.get(name) for name in req.params.get("read", [])}


    @cloud.define("fetch")
    async def fetch(req):
        obj = ParseObject(req.params["className"], {"objectId": req.params["id"]})
        return await obj.fetch(include=req.params.get("include"), **acting(req))


    @cloud.define("destroy")
    async def destroy(req):
        await ParseObject(req.params["className"], {"objectId": req.params["id"]}).destroy(**acting(req))
        return "gone"


    @cloud.define("types")
    async def types(req):
        """What each param arrived as, in Python."""
        def kind(v):
            if isinstance(v, ParseObject):
                return ["ParseObject", v.class_name, v.id, v.get("n")]
            if isinstance(v, list):
                return [kind(x) for x in v]
            if isinstance(v, dict):
                return {k: kind(x) for k, x in v.items()}
            return type(v).__name__
        return kind(req.params)


    @cloud.define("echo")
    async def echo(req):
        return req.params


    @cloud.define("objects")
    async def objects(req):
        """Saved objects returned whole, nested in a dict and a list, and a pointer."""
        post = await ParseObject("Post", {"title": "t", "at": datetime(2021, 1, 2, tzinfo=timezone.utc)}).save()
        comment = await ParseObject("Comment", {"post": post, "text": "c"}).save()
        return {"post": post, "list": [comment], "pointer": ParseObject("Post", {"objectId": post.id})}


    @cloud.define("unsaved")
    async def unsaved(req):
        return ParseObject("Post", {"title": "never saved"})


    @cloud.define("whoami")
    async def whoami(req):
        if req.user is None:
            return None
        return {"username": req.user.get("username"), "id": req.user.id, "class": req.user.class_name,
                "token": req.user.session_token is not None, "hidden": req.user.get("_hashed_password")}


    @cloud.before_save("Review")
    async def review(req):
        if not 1 <= req.object.get("stars", 0) <= 5:
            raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
        req.object.set("comment", (req.object.get("comment") or "").strip())
        req.object.increment("edits")
        req.object.add_unique("tags", "reviewed")
        req.object.set("by", req.user.get("username") if req.user else None)
        req.object.set("previous", req.original.get("stars") if req.original is not None else 0)
        if req.object.get("drop"):
            req.object.unset("drop")


    USER_SAW = {}


    @cloud.before_save("_User")
    async def user_trigger(req):
        USER_SAW.clear()
        USER_SAW.update({k: True for k in req.object.to_json() if k.startswith("_") and k != "__type"})
        req.object.set("nick", (req.object.get("nick") or "").strip())
        USER_SAW["nick"] = req.object.get("nick")
        if req.object.get("sneak"):
            req.object.set("_hashed_password", "x")


    @cloud.define("userTriggerSaw")
    async def user_trigger_saw(req):
        return USER_SAW


    @cloud.after_save("Counter")
    async def audit(req):
        log = ParseObject("AuditLog")
        log.set("action", "update" if req.original is not None else "create")
        log.set("target", req.object)
        log.set("n", req.object.get("n"))
        log.set("at", req.object.updated_at)
        await log.save(master=True)
''')


@pytest.fixture(scope="module")
def server(admin_dsn, tmp_path_factory):
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("cloud"), CLOUD) as info:
        yield info


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def master(server):
    return {"X-Parse-Master-Key": server.master_key}


@pytest.fixture(scope="module")
def alice(api):
    """A user: (objectId, session token)."""
    r = api.post("/users", json={"username": "alice" + secrets.token_hex(3), "password": "pw"})
    return r.json()["objectId"], r.json()["sessionToken"]


def call(api, name: str, headers: dict | None = None, **params):
    r = api.post(f"/functions/{name}", json=params, headers=headers or {})
    return r.status_code, r.json()


def result(api, name: str, headers: dict | None = None, **params):
    status, body = call(api, name, headers, **params)
    assert status == 200, body
    return body.get("result")


# -- ACLs and class-level permissions --------------------------------------------------------------

@pytest.fixture(scope="module")
def notes(api, alice):
    """Three Notes: one public, one only alice may read, one only the master key may."""
    uid, token = alice
    public = api.post("/classes/Note", json={"n": 1}).json()["objectId"]
    mine = api.post("/classes/Note", json={"n": 2, "ACL": {uid: {"read": True, "write": True}}},
                    headers={"X-Parse-Session-Token": token}).json()["objectId"]
    nobody = api.post("/classes/Note", json={"n": 3, "ACL": {}}).json()["objectId"]
    return {"public": public, "mine": mine, "nobody": nobody}


@pytest.mark.parametrize("acting, session, seen", [
    ({}, False, [1]),                 # no option: a client with no session
    ({}, True, [1]),                  # even when the function's caller has one
    ({"as": "user"}, True, [1, 2]),   # the caller's session token
    ({"as": "master"}, False, [1, 2, 3]),
])
def test_a_query_acts_as_nobody_unless_told_and_acls_apply(api, alice, notes, acting, session, seen):
    headers = {"X-Parse-Session-Token": alice[1]} if session else {}
    spec = {"className": "Note", "calls": [["ascending", "n"]], **acting}
    found = result(api, "query", headers, **spec)
    assert [o["n"] for o in found] == seen
    assert all(o["__type"] == "Object" and o["className"] == "Note" for o in found)
    assert result(api, "query", headers, **spec, run="count") == len(seen)


def test_a_plain_def_handler_queries_through_trio_from_thread(api, notes):
    assert result(api, "countInThread") == 1


def test_a_session_token_param_acts_as_that_user_and_a_bad_one_is_209(api, alice, notes):
    assert [o["n"] for o in result(api, "query", className="Note", calls=[["ascending", "n"]],
                                   **{"as": "token", "token": alice[1]})] == [1, 2]
    status, body = call(api, "query", className="Note", **{"as": "token", "token": "r:nope"})
    assert (status, body) == (400, {"code": 209, "error": "Invalid session token"})


@pytest.mark.parametrize("run", ["get", "fetch"])
def test_an_object_hidden_by_its_acl_is_101_without_the_master_key(api, notes, run):
    params = {"className": "Note", "id": notes["nobody"]}
    name = "query" if run == "get" else "fetch"
    assert call(api, name, run="get", **params) == (404, {"code": 101, "error": "Object not found."})
    found = result(api, name, run="get", **params, **{"as": "master"})
    assert (found["objectId"], found["n"]) == (notes["nobody"], 3)


def test_writes_respect_acls_and_class_level_permissions(api, master, notes):
    status, body = call(api, "change", className="Note", id=notes["nobody"], calls=[["set", "n", 30]])
    assert (status, body["code"]) == (404, 101)
    assert result(api, "change", className="Note", id=notes["nobody"], calls=[["set", "n", 3]],
                  **{"as": "master"}) == {}
    api.post("/schemas/Sealed", json={"classLevelPermissions": {"create": {}, "find": {"*": True}}}, headers=master)
    status, body = call(api, "create", className="Sealed", fields={"a": 1})
    assert (status, body["code"]) == (400, 119)  # the service's refusal keeps its code
    assert result(api, "create", className="Sealed", fields={"a": 1}, **{"as": "master"})["a"] == 1


# -- creating, changing, destroying ----------------------------------------------------------------

def test_a_created_object_reaches_the_client_as_a_parse_object_and_is_stored(api, master):
    made = result(api, "create", className="Thing", fields={"name": "x", "when": {"__type": "Date",
                                                                                   "iso": "2020-01-02T03:04:05.006Z"}})
    assert made["__type"] == "Object" and made["className"] == "Thing"
    assert made["name"] == "x" and made["when"] == {"__type": "Date", "iso": "2020-01-02T03:04:05.006Z"}
    assert made["createdAt"] == made["updatedAt"]
    stored = api.get(f"/classes/Thing/{made['objectId']}").json()
    assert (stored["name"], stored["when"], stored["createdAt"]) == ("x", made["when"], made["createdAt"])


@pytest.mark.parametrize("calls, read, expected", [
    ([["increment", "n"], ["increment", "n", 4]], ["n"], {"n": 15}),
    ([["set", "n", 1], ["increment", "n", 2]], ["n"], {"n": 3}),
    ([["add", "tags", "c"], ["add", "tags", "d", "e"]], ["tags"], {"tags": ["a", "b", "c", "d", "e"]}),
    ([["add_unique", "tags", "a", "z"]], ["tags"], {"tags": ["a", "b", "z"]}),
    ([["remove", "tags", "a"]], ["tags"], {"tags": ["b"]}),
    ([["unset", "tags"], ["set", "s", "new"]], ["tags", "s"], {"tags": None, "s": "new"}),
])
def test_changes_are_saved_as_parse_operations(api, master, calls, read, expected):
    made = api.post("/classes/Counted", json={"n": 10, "tags": ["a", "b"], "s": "old"}).json()["objectId"]
    saved = result(api, "change", className="Counted", id=made, calls=calls, read=read)
    assert saved == expected  # Increment/Add* results come back from the server's answer
    stored = api.get(f"/classes/Counted/{made}").json()
    assert {k: stored.get(k) for k in read} == expected


def test_concurrent_increments_are_not_lost(api):
    made = api.post("/classes/Counted", json={"n": 0}).json()["objectId"]
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: result(api, "change", className="Counted", id=made, calls=[["increment", "n"]]),
                      range(16)))
    assert api.get(f"/classes/Counted/{made}").json()["n"] == 16


def test_destroy_deletes_as_the_caller_may(api, notes):
    made = api.post("/classes/Thing", json={"name": "doomed", "ACL": {}}).json()["objectId"]
    assert call(api, "destroy", className="Thing", id=made)[1]["code"] == 101
    assert result(api, "destroy", className="Thing", id=made, **{"as": "master"}) == "gone"
    assert call(api, "fetch", className="Thing", id=made, **{"as": "master"})[1]["code"] == 101


# -- queries ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def items(api, master):
    """Items n = 1..6 with a name, tags and a place."""
    rows = [{"n": n, "name": name, "tags": tags, "place": {"__type": "GeoPoint", "latitude": lat, "longitude": 0}}
            for n, name, tags, lat in [
                (1, "apple", ["red", "fruit"], 0), (2, "banana", ["yellow", "fruit"], 1),
                (3, "carrot", ["orange"], 2), (4, "date.palm", ["brown", "fruit"], 3),
                (5, "Eggplant", ["purple"], 40), (6, "fig", [], 50)]]
    for row in rows:
        assert api.post("/classes/Item", json=row).status_code == 201
    return rows


@pytest.mark.parametrize("calls, expected", [
    ([["equal_to", "n", 3]], [3]),
    ([["not_equal_to", "n", 3]], [1, 2, 4, 5, 6]),
    ([["greater_than", "n", 4]], [5, 6]),
    ([["greater_than_or_equal_to", "n", 4], ["less_than", "n", 6]], [4, 5]),
    ([["less_than_or_equal_to", "n", 2]], [1, 2]),
    ([["contained_in", "n", [2, 4, 9]]], [2, 4]),
    ([["not_contained_in", "n", [2, 4]]], [1, 3, 5, 6]),
    ([["contains_all", "tags", ["fruit", "red"]]], [1]),
    ([["contained_by", "tags", ["orange", "purple", "red"]]], [3, 5, 6]),
    ([["equal_to", "tags", "fruit"]], [1, 2, 4]),
    ([["exists", "name"], ["less_than", "n", 3]], [1, 2]),
    ([["does_not_exist", "name"]], []),
    ([["starts_with", "name", "date."]], [4]),
    ([["starts_with", "name", "d.t"]], []),  # quoted: the dot is not a wildcard
    ([["ends_with", "name", "ot"]], [3]),
    ([["contains", "name", "an"]], [2, 5]),
    ([["matches", "name", "^e", "i"]], [5]),
    ([["matches", "name", "^e"]], []),
    ([["within_kilometers", "place", [0, 0], 400]], [1, 2, 3, 4]),
    ([["near", "place", [50, 0]], ["limit", 2]], [6, 5]),
    ([["within_geo_box", "place", [35, -1], [45, 1]]], [5]),
    ([["descending", "n"], ["skip", 1], ["limit", 2]], [5, 4]),
    ([["add_descending", "name"], ["limit", 2]], [6, 4]),
])
def test_query_constraints_select_as_the_js_sdk_s(api, items, calls, expected):
    found = result(api, "query", className="Item", calls=calls)
    ordered = any(c[0] in ("descending", "add_descending", "near") for c in calls)
    got = [o["n"] for o in found]
    assert (got if ordered else sorted(got)) == expected


def test_or_first_count_and_select(api, items):
    either = {"className": "Item", "calls": [
        ["or_", {"className": "Item", "calls": [["equal_to", "n", 1]]}, {"className": "Item", "calls": [["equal_to", "n", 6]]}],
        ["select", "name"], ["ascending", "name"]]}
    found = result(api, "query", **either)
    assert [(o.get("n"), o["name"]) for o in found] == [(None, "apple"), (None, "fig")]
    assert result(api, "query", **either, run="count") == 2
    assert result(api, "query", **either, run="first")["name"] == "apple"
    assert result(api, "query", className="Item", calls=[["equal_to", "n", 99]], run="first") is None


@pytest.fixture(scope="module")
def blog(api):
    """Two posts, three comments pointing at them."""
    posts = {t: api.post("/classes/Post", json={"title": t, "score": s}).json()["objectId"]
             for t, s in (("hello", 1), ("world", 2))}
    for text, title in (("c1", "hello"), ("c2", "hello"), ("c3", "world")):
        api.post("/classes/Comment", json={"text": text, "post": {"__type": "Pointer", "className": "Post",
                                                                   "objectId": posts[title]}})
    return posts


def test_include_returns_pointed_objects_whole(api, blog):
    found = result(api, "query", className="Comment", calls=[["include", "post"], ["ascending", "text"],
                                                             ["contained_in", "text", ["c1", "c3"]]])
    assert [(c["text"], c["post"]["__type"], c["post"]["title"]) for c in found] == [
        ("c1", "Object", "hello"), ("c3", "Object", "world")]
    plain = result(api, "query", className="Comment", calls=[["equal_to", "text", "c1"]])
    assert plain[0]["post"] == {"__type": "Pointer", "className": "Post", "objectId": blog["hello"]}


@pytest.mark.parametrize("method, expected", [
    ("matches_query", ["c1", "c2"]),
    ("does_not_match_query", ["c3"]),
])
def test_subqueries(api, blog, method, expected):
    sub = {"className": "Post", "calls": [["equal_to", "title", "hello"]]}
    found = result(api, "query", className="Comment", calls=[[method, "post", sub], ["ascending", "text"]])
    assert [c["text"] for c in found] == expected


def test_matches_key_in_query(api, blog):
    api.post("/classes/Wanted", json={"title": "world"})
    sub = {"className": "Wanted", "calls": []}
    found = result(api, "query", className="Post", calls=[["matches_key_in_query", "title", "title", sub]])
    assert [p["title"] for p in found] == ["world"]
    found = result(api, "query", className="Post", calls=[["does_not_match_key_in_query", "title", "title", sub]])
    assert [p["title"] for p in found] == ["hello"]


def test_query_by_pointer_and_fetch_with_include(api, blog):
    pointer = {"__type": "Pointer", "className": "Post", "objectId": blog["world"]}
    found = result(api, "query", className="Comment", calls=[["equal_to", "post", pointer]])
    assert [c["text"] for c in found] == ["c3"]
    fetched = result(api, "fetch", className="Comment", id=found[0]["objectId"], include=["post"])
    assert fetched["post"]["title"] == "world" and fetched["post"]["__type"] == "Object"


def test_a_bad_query_is_a_parse_error_not_a_crash(api):
    status, body = call(api, "query", className="Item", calls=[["equal_to", "$bad", 1]])
    assert status == 400 and body["code"] in (102, 105)
    status, body = call(api, "query", className="Item", calls=[["limit", -1]])
    assert (status, body["code"]) == (400, 141)


# -- Parse values in and out -----------------------------------------------------------------------

def test_params_arrive_as_python_values(api):
    params = {
        "when": {"__type": "Date", "iso": "2020-05-06T07:08:09.123Z"},
        "ptr": {"__type": "Pointer", "className": "Post", "objectId": "p1"},
        "obj": {"__type": "Object", "className": "Post", "objectId": "p2", "n": 7},
        "nested": [{"deep": [{"__type": "Pointer", "className": "Post", "objectId": "p3"}]}],
        "geo": {"__type": "GeoPoint", "latitude": 1, "longitude": 2},
        "bytes": {"__type": "Bytes", "base64": "aGk="},
    }
    assert result(api, "types", **params) == {
        "when": "datetime", "ptr": ["ParseObject", "Post", "p1", None], "obj": ["ParseObject", "Post", "p2", 7],
        "nested": [{"deep": [["ParseObject", "Post", "p3", None]]}],
        "geo": {"__type": "str", "latitude": "int", "longitude": "int"}, "bytes": {"__type": "str", "base64": "str"}}
    assert result(api, "echo", **params) == params  # and encode back as they came


def test_returned_objects_are_encoded_as_parse_encodes_them(api):
    out = result(api, "objects")
    post, comment, pointer = out["post"], out["list"][0], out["pointer"]
    assert post["__type"] == "Object" and post["title"] == "t"
    assert post["at"] == {"__type": "Date", "iso": "2021-01-02T00:00:00.000Z"}
    assert comment["__type"] == "Object" and comment["post"]["objectId"] == post["objectId"]
    assert pointer == {"__type": "Pointer", "className": "Post", "objectId": post["objectId"]}


def test_an_unsaved_object_cannot_be_returned(api):
    assert call(api, "unsaved") == (400, {"code": 141, "error": "Cannot create a pointer to an unsaved ParseObject"})


def test_req_user_is_the_sessions_user(api, alice):
    assert result(api, "whoami") is None
    me = result(api, "whoami", {"X-Parse-Session-Token": alice[1]})
    assert me == {"username": me["username"], "id": alice[0], "class": "_User", "token": True, "hidden": None}
    assert me["username"].startswith("alice")


# -- save triggers ---------------------------------------------------------------------------------

def test_before_save_changes_through_req_object_are_stored_and_answered(api, alice):
    headers = {"X-Parse-Session-Token": alice[1]}
    r = api.post("/classes/Review", json={"stars": 4, "comment": "  ok  ", "edits": {"__op": "Increment", "amount": 5},
                                          "drop": True}, headers=headers)
    assert r.status_code == 201, r.json()
    made = r.json()
    assert (made["comment"], made["edits"], made["tags"]) == ("ok", 6, ["reviewed"])  # merged with the client's
    stored = api.get(f"/classes/Review/{made['objectId']}").json()
    assert (stored["by"], stored["previous"], stored["edits"]) == (me_name(api, headers), 0, 6)
    assert "drop" not in stored
    r = api.put(f"/classes/Review/{made['objectId']}", json={"stars": 2})
    stored = api.get(f"/classes/Review/{made['objectId']}").json()
    assert (stored["previous"], stored["edits"], stored["by"], stored["tags"]) == (4, 7, None, ["reviewed"])


def me_name(api, headers):
    return api.get("/users/me", headers=headers).json()["username"]


def test_a_before_save_refusal_writes_nothing(api):
    r = api.post("/classes/Review", json={"stars": 9})
    assert (r.status_code, r.json()) == (400, {"code": 142, "error": "stars must be between 1 and 5"})


def test_after_save_writes_another_object_with_parse_object(api, master):
    made = api.post("/classes/Counter", json={"n": 1}).json()["objectId"]
    api.put(f"/classes/Counter/{made}", json={"n": {"__op": "Increment", "amount": 1}})
    logs = api.get("/classes/AuditLog", params={"order": "createdAt"}, headers=master).json()["results"]
    mine = [log for log in logs if log["target"]["objectId"] == made]
    assert [(log["action"], log["n"]) for log in mine] == [("create", 1), ("update", 2)]
    stored = api.get(f"/classes/Counter/{made}").json()
    assert mine[-1]["at"] == {"__type": "Date", "iso": stored["updatedAt"]}  # the object's dates as written


# -- the README's example --------------------------------------------------------------------------

def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Cloud Code"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python"))]


@pytest.fixture(scope="module")
def readme_api(admin_dsn, tmp_path_factory):
    with server_with_cloud(admin_dsn, tmp_path_factory.mktemp("readme"), _readme_example()) as info:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as client:
            yield client


def test_the_readme_example_runs_as_it_says(readme_api):
    api = readme_api
    assert result(api, "hello") == "Hello world!"
    assert api.post("/classes/Review", json={"stars": 9}).json()["code"] == 142
    for stars in (5, 3, 4):
        assert api.post("/classes/Review", json={"stars": stars, "comment": f" {stars} "}).status_code == 201
    top = result(api, "topReviews")
    assert [(r["__type"], r["stars"], r["comment"]) for r in top] == [("Object", 5, "5"), ("Object", 4, "4")]
    assert [r["stars"] for r in result(api, "topReviews", limit=1)] == [5]
    counter = api.post("/classes/Counter", json={"n": 1}).json()["objectId"]
    api.put(f"/classes/Counter/{counter}", json={"n": 2})
    logs = api.get("/classes/AuditLog", params={"order": "createdAt"}).json()["results"]
    assert [log["action"] for log in logs] == ["create", "update"]


def test_a_user_trigger_sees_no_internal_fields_and_cannot_write_them(api):
    name = "t" + secrets.token_hex(4)
    r = api.post("/users", json={"username": name, "password": "pw", "nick": " n "})
    assert r.status_code == 201, r.json()
    seen = result(api, "userTriggerSaw")
    assert seen["nick"] == "n" and not [k for k in seen if k.startswith("_")]
    r = api.post("/users", json={"username": name + "x", "password": "pw", "sneak": True})
    assert (r.status_code, r.json()["code"]) == (400, 105)
    login = api.post("/login", json={"username": name, "password": "pw"})
    assert login.status_code == 200  # the password hash is untouched
