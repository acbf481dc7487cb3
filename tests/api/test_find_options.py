"""Find options that shape results: include, keys and excludeKeys with dotted paths, explain."""

from __future__ import annotations

import pytest

from parsnip.projections import include


def _make(api, cls: str, body: dict) -> str:
    r = api.post(f"/classes/{cls}", json=body)
    assert r.status_code == 201, r.text
    return r.json()["objectId"]


def _ptr(cls: str, oid: str) -> dict:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


@pytest.fixture
def blog(api, class_name):
    """Comment -> Post -> Author, two comments on one post, one on a post whose author is gone."""
    author_cls, post_cls, comment_cls = class_name + "A", class_name + "P", class_name + "C"
    author = _make(api, author_cls, {"name": "Ann", "bio": "long text"})
    post = _make(api, post_cls, {"title": "Hello", "body": "B", "author": _ptr(author_cls, author)})
    orphan = _make(api, post_cls, {"title": "Orphan", "author": _ptr(author_cls, "gone000000")})
    _make(api, comment_cls, {"n": 1, "post": _ptr(post_cls, post)})
    _make(api, comment_cls, {"n": 2, "post": _ptr(post_cls, post)})
    _make(api, comment_cls, {"n": 3, "post": _ptr(post_cls, orphan), "tags": [_ptr(author_cls, author)]})
    return {"A": author_cls, "P": post_cls, "C": comment_cls, "author": author, "post": post}


def _find(api, cls, **params):
    r = api.get(f"/classes/{cls}", params={"order": "n", **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_include_nested_path(api, blog):
    rows = _find(api, blog["C"], include="post.author")
    post = rows[0]["post"]
    assert post["__type"] == "Object" and post["className"] == blog["P"] and post["title"] == "Hello"
    assert post["author"]["__type"] == "Object" and post["author"]["name"] == "Ann"
    assert rows[0]["post"] == rows[1]["post"]
    # A pointer whose target is gone stays a pointer.
    assert rows[2]["post"]["author"] == {"__type": "Pointer", "className": blog["A"], "objectId": "gone000000"}


def test_include_one_level_leaves_deeper_pointers(api, blog):
    post = _find(api, blog["C"], include="post")[0]["post"]
    assert post["author"]["__type"] == "Pointer"


@pytest.mark.parametrize("params", [{"include": "*"}, {"includeAll": "true"}])
def test_include_all_expands_every_pointer_and_arrays_of_pointers(api, blog, params):
    rows = _find(api, blog["C"], **params)
    assert rows[0]["post"]["__type"] == "Object"
    assert rows[2]["tags"][0]["__type"] == "Object" and rows[2]["tags"][0]["name"] == "Ann"


def test_get_with_include(api, blog):
    oid = _find(api, blog["C"])[0]["objectId"]
    got = api.get(f"/classes/{blog['C']}/{oid}", params={"include": "post"}).json()
    assert got["post"]["title"] == "Hello"


def test_dotted_keys_include_and_trim_the_pointer(api, blog):
    rows = _find(api, blog["C"], keys="n,post.title")
    assert set(rows[0]) == {"n", "post", "objectId", "createdAt", "updatedAt"}
    assert set(rows[0]["post"]) == {"title", "objectId", "createdAt", "updatedAt", "__type", "className"}


def test_exclude_keys_top_level_and_dotted(api, blog):
    rows = _find(api, blog["C"], excludeKeys="n")
    assert "n" not in rows[0] and "post" in rows[0]
    rows = _find(api, blog["C"], include="post", excludeKeys="post.body")
    assert "body" not in rows[0]["post"] and rows[0]["post"]["title"] == "Hello"


def test_explain_needs_the_master_key(api, blog, parsnip_server):
    r = api.get(f"/classes/{blog['C']}", params={"explain": "true"})
    assert r.status_code == 400 and r.json()["code"] == 119
    r = api.get(f"/classes/{blog['C']}", params={"explain": "true"},
                headers={"X-Parse-Master-Key": parsnip_server.master_key})
    assert r.status_code == 200
    assert "Plan" in r.json()["results"][0]


@pytest.mark.parametrize("bad", ["a..b", "$x", "1a"])
def test_bad_include_or_keys_paths_are_refused(api, blog, bad):
    for name in ("include", "keys", "excludeKeys"):
        r = api.get(f"/classes/{blog['C']}", params={name: bad})
        assert r.status_code == 400 and r.json()["code"] == 105, (name, r.text)


async def test_include_reads_once_per_class_and_level():
    """Pointers to 50 objects of two classes, two levels deep: three reads, not one per object."""
    calls = []

    async def fetch(cls, ids):
        calls.append((cls, len(ids)))
        return {i: {"objectId": i, "next": {"__type": "Pointer", "className": "Leaf", "objectId": "L" + i}}
                for i in ids} if cls != "Leaf" else {i: {"objectId": i} for i in ids}

    objects = [{"objectId": str(n), "p": {"__type": "Pointer", "className": "A" if n % 2 else "B", "objectId": str(n)}}
               for n in range(50)]
    await include.resolve(objects, include.include_tree(["p.next"]), fetch)
    assert sorted(calls) == [("A", 25), ("B", 25), ("Leaf", 50)]
    assert all(o["p"]["next"]["__type"] == "Object" for o in objects)


def test_equality_on_a_btree_indexed_field_uses_that_index(api, class_name, parsnip_server):
    """An operator's btree on (data->'room', created_at) serves equality + order + limit."""
    import asyncio
    import json

    import asyncpg

    rows = [{"room": f"r{i % 50}", "n": i} for i in range(3000)]
    for start in range(0, len(rows), 500):
        r = api.post("/batch", json={"requests": [
            {"method": "POST", "path": f"/parse/classes/{class_name}", "body": b} for b in rows[start:start + 500]]})
        assert r.status_code == 200

    async def index() -> None:
        conn = await asyncpg.connect(parsnip_server.dsn)
        try:
            await conn.execute(f'CREATE INDEX "{class_name}_room" ON "p_{class_name}" ((data->\'room\'), created_at)')
            await conn.execute(f'VACUUM ANALYZE "p_{class_name}"')
        finally:
            await conn.close()

    asyncio.run(index())
    params = {"where": json.dumps({"room": "r7"}), "order": "-createdAt", "limit": 5}
    found = api.get(f"/classes/{class_name}", params=params).json()["results"]
    everything = api.get(f"/classes/{class_name}", params={"where": json.dumps({"room": "r7"}), "limit": 1000}).json()["results"]
    assert len(everything) == 60 and all(o["room"] == "r7" for o in found)
    assert [o["createdAt"] for o in found] == sorted((o["createdAt"] for o in everything), reverse=True)[:5]
    plan = api.get(f"/classes/{class_name}", params={**params, "explain": "true"},
                   headers={"X-Parse-Master-Key": parsnip_server.master_key}).json()["results"]
    assert f"{class_name}_room" in json.dumps(plan)
    # $in on the same field, and a value of another type, still answer rightly.
    assert len(api.get(f"/classes/{class_name}", params={"where": json.dumps({"room": {"$in": ["r1", "r2"]}}),
                                                         "limit": 1000}).json()["results"]) == 120
    assert api.get(f"/classes/{class_name}", params={"where": json.dumps({"room": 7})}).json()["results"] == []


def test_equality_on_a_field_that_never_holds_an_array_is_one_containment(api, class_name, parsnip_server):
    """A String field holds no arrays (the schema says so), so equality and $in need not look for
    the value inside one: one containment per value, half the index probes."""
    import json

    rows = [{"room": f"r{i % 5}", "tags": [f"r{i % 5}"]} for i in range(20)]
    assert api.post("/batch", json={"requests": [
        {"method": "POST", "path": f"/parse/classes/{class_name}", "body": b} for b in rows]}).status_code == 200
    master = {"X-Parse-Master-Key": parsnip_server.master_key}

    def found(where: dict) -> int:
        return len(api.get(f"/classes/{class_name}", params={"where": json.dumps(where), "limit": 100}).json()["results"])

    def plan(where: dict) -> str:
        return json.dumps(api.get(f"/classes/{class_name}", headers=master,
                                  params={"where": json.dumps(where), "explain": "true"}).json()["results"])

    assert found({"room": "r1"}) == 4 and found({"room": {"$in": ["r1", "r2"]}}) == 8
    assert "ANY" not in plan({"room": "r1"})  # one containment, not the value-or-array pair
    assert found({"tags": "r1"}) == 4  # an Array field is still searched inside
    assert "ANY" in plan({"tags": "r1"})


def test_a_subquery_reads_its_own_class_fields_not_the_outer_ones(api, class_name, parsnip_server):
    """The outer class's `tags` is an indexed String; the subquery's class holds `tags` as an
    Array: equality inside the subquery must still find the arrays holding the value."""
    import asyncio
    import json

    import asyncpg

    inner = class_name + "In"
    target = api.post(f"/classes/{inner}", json={"tags": ["x", "y"]}).json()["objectId"]
    pointer = {"__type": "Pointer", "className": inner, "objectId": target}
    assert api.post(f"/classes/{class_name}", json={"tags": "x", "p": pointer}).status_code == 201

    async def index() -> None:
        conn = await asyncpg.connect(parsnip_server.dsn)
        try:
            await conn.execute(f'CREATE INDEX "{class_name}_tags" ON "p_{class_name}" ((data->\'tags\'))')
        finally:
            await conn.close()

    asyncio.run(index())
    where = {"p": {"$inQuery": {"where": {"tags": "x"}, "className": inner}}}
    assert len(api.get(f"/classes/{class_name}", params={"where": json.dumps(where)}).json()["results"]) == 1
    select = {"tags": {"$select": {"query": {"className": inner, "where": {"tags": "y"}}, "key": "tags"}}}
    assert api.get(f"/classes/{class_name}", params={"where": json.dumps(select)}).status_code == 200
