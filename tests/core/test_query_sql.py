"""The SQL evaluator of the query AST (`core/query/sql`), against a real PostgreSQL.

Each family of operators runs on a small dataset written through the runtime; hostile text in
values and keys either finds the right rows or is refused with a ParseError, and never harms
the tables; top-level equality is served by the GIN index on `data`.
"""

from __future__ import annotations

import json

import pytest

from parsnip.core.commands import Create, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.query.ast import parse_where
from parsnip.core.query.sql import (
    TEXT_SEARCH_CONFIGS, Params, compile_near_order, compile_where, existing_tables,
)
from parsnip.core.query.sql.regex import to_are
from parsnip.projections import reader

MASTER = Context(master=True)


def G(lat, lng):
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


def D(iso):
    return {"__type": "Date", "iso": iso}


def P(cls, oid):
    return {"__type": "Pointer", "className": cls, "objectId": oid}


async def create(rt, cls, body, object_id=None):
    ops, _ = build_ops(cls, body)
    [result] = await rt.write([Create(cls, ops, object_id)], MASTER)
    return result.object_id


async def names(rt, where, cls="Thing", *, near=False):
    """The `name` of every object of `cls` the query matches (sorted, or nearest first)."""
    node = parse_where(where)
    params = Params()
    tables = await existing_tables(rt.gateway, node)
    cond = compile_where(node, params, tables)
    order = compile_near_order(node, params) if near else None
    sql = f'SELECT data->>\'name\' FROM "p_{cls}" WHERE {cond}'
    rows = await rt.gateway.fetch(sql + (f" ORDER BY {order}" if order else ""), *params.values)
    found = [r[0] for r in rows]
    return found if near else sorted(found, key=str)


THINGS = [
    {"name": "a", "n": 1, "s": "apple", "tags": ["x", "y"], "o": {"b": {"c": 5}, "t": "hi"},
     "when": D("2020-01-01T00:00:00.000Z"), "loc": G(0, 0), "body": "I was running in the park",
     "dates": [D("2020-01-01T00:00:00.000Z")]},
    {"name": "b", "n": 2, "s": "Banana", "tags": ["y"], "o": {"b": [5, 6]},
     "when": D("2021-06-01T12:00:00.000Z"), "loc": G(10, 10), "body": "The cats sleep all day"},
    {"name": "c", "n": 3.5, "s": "cherry\nberry", "tags": [], "o": {"b": None}, "loc": G(1, 1),
     "body": "run forest run"},
    {"name": "d"},
    {"name": "e", "n": -1, "s": "Ünïcödé 'q' \\ $x", "tags": ["x", 1], "loc": G(-5, 170)},
]


@pytest.fixture
async def things(runtime):
    ids = {}
    ids["o1"] = await create(runtime, "Other", {"name": "o1", "k": "apple", "good": True})
    ids["o2"] = await create(runtime, "Other", {"name": "o2", "k": "Banana", "good": False})
    for body in THINGS:
        body = dict(body)
        if body["name"] == "a":
            body["ptr"] = P("Other", ids["o1"])
        if body["name"] == "b":
            body["ptr"] = P("Other", ids["o2"])
            body["ptrs"] = [P("Other", ids["o1"]), P("Other", ids["o2"])]
        ids[body["name"]] = await create(runtime, "Thing", body)
    return ids


# -- equality, comparisons, $in/$nin, $all, $containedBy, $exists --------------------------

@pytest.mark.parametrize("where, expected", [
    ({"n": 1}, ["a"]),
    ({"n": 1.0}, ["a"]),
    ({"s": "Banana"}, ["b"]),
    ({"tags": "y"}, ["a", "b"]),
    ({"tags": 1}, ["e"]),
    ({"n": None}, ["d"]),
    ({"o.b.c": 5}, ["a"]),
    ({"o.b": 5}, ["b"]),
    ({"o.t": "hi"}, ["a"]),
    ({"o.b": None}, ["c", "d", "e"]),
    ({"o": {"b": {"c": 5}, "t": "hi"}}, ["a"]),
    ({"o": {"b": {"c": 5}}}, []),
    ({"when": D("2020-01-01T00:00:00Z")}, ["a"]),
    ({"dates": D("2020-01-01T00:00:00+00:00")}, ["a"]),
    ({"n": {"$ne": 1}}, ["b", "c", "d", "e"]),
    ({"o.b.c": {"$ne": 5}}, ["b", "c", "d", "e"]),
    ({"tags": {"$ne": "x"}}, ["b", "c", "d"]),
    ({"n": {"$gt": 1}}, ["b", "c"]),
    ({"n": {"$gte": 1, "$lt": 3}}, ["a", "b"]),
    ({"o.b.c": {"$lte": 5}}, ["a"]),
    ({"s": {"$gt": "Z"}}, ["a", "c", "e"]),  # COLLATE "C": uppercase sorts before lowercase
    ({"s": {"$lt": "apple"}}, ["b"]),
    ({"when": {"$gt": D("2020-06-01T00:00:00.000Z")}}, ["b"]),
    ({"when": {"$lte": D("2020-01-01T00:00:00.000Z")}}, ["a"]),
    ({"createdAt": {"$gt": D("2000-01-01T00:00:00.000Z")}}, ["a", "b", "c", "d", "e"]),
    ({"updatedAt": {"$lt": D("2000-01-01T00:00:00.000Z")}}, []),
    ({"when": {"$gt": {"$relativeTime": "3 days ago"}}}, []),
    ({"n": {"$in": [1, 2, 99]}}, ["a", "b"]),
    ({"tags": {"$in": ["x"]}}, ["a", "e"]),
    ({"o.b": {"$in": [6]}}, ["b"]),
    ({"n": {"$in": []}}, []),
    ({"n": {"$nin": [1, 2]}}, ["c", "d", "e"]),
    ({"tags": {"$nin": ["x"]}}, ["b", "c", "d"]),
    ({"n": {"$nin": []}}, ["a", "b", "c", "d", "e"]),
    ({"when": {"$in": [D("2021-06-01T12:00:00Z"), None]}}, ["b", "c", "d", "e"]),
    ({"tags": {"$all": ["x", "y"]}}, ["a"]),
    ({"tags": {"$all": ["y"]}}, ["a", "b"]),
    ({"tags": {"$all": []}}, []),
    ({"dates": {"$all": [D("2020-01-01T00:00:00Z")]}}, ["a"]),
    ({"tags": {"$containedBy": ["x", "y"]}}, ["a", "b", "c"]),
    ({"tags": {"$containedBy": []}}, ["c"]),
    ({"tags": {"$containedBy": ["x", 1]}}, ["c", "e"]),
    ({"n": {"$exists": True}}, ["a", "b", "c", "e"]),
    ({"n": {"$exists": False}}, ["d"]),
    ({"o.b": {"$exists": True}}, ["a", "b"]),
    ({"o.b.c": {"$exists": False}}, ["b", "c", "d", "e"]),
    ({"objectId": {"$exists": True}, "ACL": {"$exists": False}}, ["a", "b", "c", "d", "e"]),
    ({"$or": [{"n": 1}, {"s": "Banana"}]}, ["a", "b"]),
    ({"$and": [{"tags": "y"}, {"n": {"$gt": 1}}]}, ["b"]),
    ({"$nor": [{"n": {"$gt": 1}}, {"s": "apple"}]}, ["d", "e"]),
])
async def test_fields(runtime, things, where, expected):
    assert await names(runtime, where) == expected


async def test_object_id_and_dates_columns(runtime, things):
    assert await names(runtime, {"objectId": things["a"]}) == ["a"]
    assert await names(runtime, {"objectId": {"$in": [things["b"], things["c"], "nope"]}}) == ["b", "c"]
    assert await names(runtime, {"objectId": {"$nin": [things["b"]]}}) == ["a", "c", "d", "e"]
    assert await names(runtime, {"objectId": {"$ne": things["b"]}}) == ["a", "c", "d", "e"]
    created = await runtime.gateway.fetchval('SELECT created_at FROM "p_Thing" WHERE object_id = $1', things["c"])
    iso = created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
    assert await names(runtime, {"createdAt": D(iso)}) == ["c"]
    assert await names(runtime, {"createdAt": {"$gte": D(iso)}}) == ["c", "d", "e"]


async def test_pointers(runtime, things):
    assert await names(runtime, {"ptr": P("Other", things["o1"])}) == ["a"]
    assert await names(runtime, {"ptrs": P("Other", things["o1"])}) == ["b"]
    assert await names(runtime, {"ptr": {"$in": [P("Other", things["o2"])]}}) == ["b"]
    assert await names(runtime, {"ptr": {"$ne": P("Other", things["o2"])}}) == ["a", "c", "d", "e"]


# -- $regex ----------------------------------------------------------------------------------

@pytest.mark.parametrize("where, expected", [
    ({"s": {"$regex": "^a"}}, ["a"]),
    ({"s": {"$regex": "^b"}}, []),
    ({"s": {"$regex": "^b", "$options": "i"}}, ["b"]),
    ({"s": {"$regex": "(?i)^B"}}, ["b"]),
    ({"s": {"$regex": "^berry"}}, []),                 # ^ only at the start without m
    ({"s": {"$regex": "^berry", "$options": "m"}}, ["c"]),
    ({"s": {"$regex": "cherry$", "$options": "m"}}, ["c"]),
    ({"s": {"$regex": "cherry.berry"}}, []),            # . skips the newline without s
    ({"s": {"$regex": "cherry.berry", "$options": "s"}}, ["c"]),
    ({"s": {"$regex": "cherry.berry", "$options": "ms"}}, ["c"]),
    ({"s": {"$regex": "^berry", "$options": "s"}}, []),
    ({"s": {"$regex": "^ a p p", "$options": "x"}}, ["a"]),
    ({"s": {"$regex": r"\bberry"}}, ["c"]),
    ({"s": {"$regex": r"\Bberry"}}, []),
    ({"s": {"$regex": r"\x41", "$options": "i"}}, ["a", "b"]),
    ({"s": {"$regex": r"(?P<first>an)\w"}}, ["b"]),
    ({"s": {"$regex": r"\Q$x\E$"}}, ["e"]),
    ({"s": {"$regex": r"[]a]pple"}}, ["a"]),
    ({"s": {"$regex": r"(?:an)+a$"}}, ["b"]),
    ({"s": {"$regex": r"(?<=B)an"}}, ["b"]),
    ({"s": {"$regex": "ünï", "$options": "i"}}, ["e"]),
    ({"n": {"$regex": "1"}}, []),                        # only String values
    ({"o.t": {"$regex": "h"}}, ["a"]),
])
async def test_regex(runtime, things, where, expected):
    assert await names(runtime, where) == expected


def test_regex_translation():
    assert to_are("a.b", "") == ("(?p)a.b", False)
    assert to_are("a.b", "m") == ("(?n)a.b", False)
    assert to_are("a.b", "s") == ("a.b", False)
    assert to_are("a.b", "ms") == ("(?w)a.b", False)
    assert to_are("a b", "ix") == ("(?px)a b", True)
    assert to_are(r"[\b]\b", "s") == (r"[\b]\y", False)
    assert to_are("(?:a)+?(?=b)", "s") == ("(?:a)+?(?=b)", False)
    for bad in ["a*+", "a++", "(?>a)", "(?i:a)b", "(?-i:a)", "(?P<n>a)(?P=n)"]:
        with pytest.raises(ParseError) as e:
            to_are(bad, "")
        assert e.value.code == ParseError.INVALID_QUERY


# -- geo -----------------------------------------------------------------------------------

async def test_near_sorted_by_distance(runtime, things):
    assert await names(runtime, {"loc": {"$nearSphere": G(0.9, 0.9)}}, near=True) == ["c", "a", "b", "e"]
    within = {"loc": {"$nearSphere": G(0.9, 0.9), "$maxDistanceInKilometers": 200}}
    assert await names(runtime, within, near=True) == ["c", "a"]
    assert await names(runtime, {"loc": {"$nearSphere": G(0, 0), "$maxDistanceInRadians": 0}}, near=True) == ["a"]
    miles = {"loc": {"$nearSphere": [9, 9], "$maxDistanceInMiles": 100}}
    assert await names(runtime, miles, near=True) == ["b"]


async def test_near_order_through_reader_compile(runtime, things):
    node = parse_where({"loc": {"$nearSphere": G(10, 10)}})
    assert compile_near_order(parse_where({"n": 1}), Params()) is None
    params = Params()
    cond, order = compile_where(node, params), compile_near_order(node, params)
    rows = await runtime.gateway.fetch(
        f'SELECT data->>\'name\' FROM "p_Thing" WHERE {cond} ORDER BY {order} LIMIT 2', *params.values)
    assert [r[0] for r in rows] == ["b", "c"]


@pytest.mark.parametrize("where, expected", [
    ({"loc": {"$within": {"$box": [G(-1, -1), G(5, 5)]}}}, ["a", "c"]),
    ({"loc": {"$within": {"$box": [G(0, 0), G(1, 1)]}}}, ["a", "c"]),   # edges included
    ({"loc": {"$within": {"$box": [G(-10, 160), G(0, 180)]}}}, ["e"]),
    ({"loc": {"$geoWithin": {"$polygon": [G(-1, -1), G(-1, 5), G(5, 5), G(5, -1)]}}}, ["a", "c"]),
    ({"loc": {"$geoWithin": {"$polygon": [G(0, 0), G(0, 1), G(1, 1), G(1, 0)]}}}, ["a", "c"]),
    ({"loc": {"$geoWithin": {"$polygon": [G(5, 5), G(5, 15), G(15, 15), G(15, 5)]}}}, ["b"]),
    ({"loc": {"$geoWithin": {"$polygon": [G(0.5, 0.5), G(0.5, 20), G(20, 20)]}}}, ["b", "c"]),  # on an edge
    ({"loc": {"$geoWithin": {"$centerSphere": [[0, 0], 0.03]}}}, ["a", "c"]),
    ({"loc": {"$geoWithin": {"$centerSphere": [[10, 10], 0.001]}}}, ["b"]),
    ({"s": {"$geoWithin": {"$centerSphere": [[0, 0], 10]}}}, []),
])
async def test_geo_within(runtime, things, where, expected):
    assert await names(runtime, where) == expected


async def test_geo_intersects(runtime):
    square = {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [10, 10], [10, 0]]}
    triangle = {"__type": "Polygon", "coordinates": [[0, 0], [20, 0], [0, 20]]}
    await create(runtime, "Region", {"name": "square", "area": square})
    await create(runtime, "Region", {"name": "triangle", "area": triangle})
    await create(runtime, "Region", {"name": "none"})

    async def at(lat, lng):
        return await names(runtime, {"area": {"$geoIntersects": {"$point": G(lat, lng)}}}, "Region")

    assert await at(5, 5) == ["square", "triangle"]
    assert await at(10, 10) == ["square", "triangle"]  # on both boundaries
    assert await at(15, 2) == ["triangle"]
    assert await at(15, 15) == []


# -- $text ---------------------------------------------------------------------------------

def T(term, **options):
    return {"body": {"$text": {"$search": {"$term": term, **options}}}}


@pytest.mark.parametrize("where, expected", [
    (T("run"), ["a", "c"]),                         # stemming: "running" finds "run"
    (T("running"), ["a", "c"]),
    (T("cat"), ["b"]),
    (T("RUN park"), ["a"]),
    (T('"run forest"'), ["c"]),
    (T("run -park"), ["c"]),
    (T("run", **{"$language": "simple"}), ["c"]),   # no stemming
    (T("run", **{"$language": "French"}), ["c"]),
    (T("run", **{"$diacriticSensitive": True}), ["a", "c"]),
    (T("'; DROP TABLE \"p_Thing\"; --"), []),
])
async def test_text(runtime, things, where, expected):
    assert await names(runtime, where) == expected


async def test_text_refusals(runtime, things):
    with pytest.raises(ParseError) as e:
        await names(runtime, T("run", **{"$caseSensitive": True}))
    assert e.value.code == ParseError.INVALID_JSON  # 107, as Parse Server on PostgreSQL
    with pytest.raises(ParseError) as e:
        await names(runtime, T("run", **{"$language": "klingon"}))
    assert e.value.code == ParseError.INVALID_QUERY


async def test_text_search_configs_exist(runtime):
    rows = await runtime.gateway.fetch("SELECT cfgname FROM pg_ts_config")
    assert TEXT_SEARCH_CONFIGS <= {r[0] for r in rows}


# -- subqueries ----------------------------------------------------------------------------

def inq(where, op="$inQuery", cls="Other"):
    return {"ptr": {op: {"className": cls, "where": where}}}


@pytest.mark.parametrize("where, expected", [
    (inq({"good": True}), ["a"]),
    (inq({}), ["a", "b"]),
    (inq({"good": True}, "$notInQuery"), ["b", "c", "d", "e"]),
    (inq({"good": True}, cls="Missing"), []),
    (inq({"good": True}, "$notInQuery", cls="Missing"), ["a", "b", "c", "d", "e"]),
    (inq({"good": True}, cls="Thing"), []),  # right id, wrong class
    ({"ptrs": {"$inQuery": {"className": "Other", "where": {"good": False}}}}, ["b"]),
    ({"$or": [inq({"k": {"$regex": "^B"}}), {"n": -1}]}, ["b", "e"]),
    (inq({"name": {"$select": {"query": {"className": "Thing", "where": {"n": 1}}, "key": "s"}},
          "k": {"$exists": True}}), []),
    (inq({"k": {"$select": {"query": {"className": "Thing", "where": {"n": 1}}, "key": "s"}}}), ["a"]),
    ({"s": {"$select": {"query": {"className": "Other", "where": {}}, "key": "k"}}}, ["a", "b"]),
    ({"s": {"$select": {"query": {"className": "Other", "where": {"good": False}}, "key": "k"}}}, ["b"]),
    ({"s": {"$dontSelect": {"query": {"className": "Other", "where": {"good": False}}, "key": "k"}}},
     ["a", "c", "d", "e"]),
    ({"s": {"$select": {"query": {"className": "Missing", "where": {}}, "key": "k"}}}, []),
    ({"s": {"$dontSelect": {"query": {"className": "Missing", "where": {}}, "key": "k"}}},
     ["a", "b", "c", "d", "e"]),
    ({"tags": {"$select": {"query": {"className": "Other", "where": {}}, "key": "name"}}}, []),
    ({"name": {"$select": {"query": {"className": "Other", "where": {"good": True}}, "key": "objectId"}}}, []),
])
async def test_subqueries(runtime, things, where, expected):
    assert await names(runtime, where) == expected


async def test_select_on_object_id(runtime, things):
    await create(runtime, "Ref", {"name": "r", "target": things["o2"]})
    where = {"target": {"$select": {"query": {"className": "Other", "where": {"good": False}}, "key": "objectId"}}}
    assert await names(runtime, where, "Ref") == ["r"]


async def test_reader_find_uses_the_compiler(runtime, things):
    opts = reader.FindOptions(where=parse_where({"tags": {"$all": ["x", "y"]}, "loc": {"$exists": True}}))
    texts, _ = await runtime.read(reader.find, "Thing", opts)
    assert [json.loads(t)["name"] for t in texts] == ["a"]


# -- hostile input -------------------------------------------------------------------------

NASTY = [
    "'", "''", '"', "\\", "\\'", "$1", "$$", "$$ || pg_sleep(1) || $$", "'; DROP TABLE \"p_Thing\"; --",
    "') OR TRUE --", "{a,b}", "$.a[*] ? (@ > 1)", "->>'x'", "ünï 日本 🎉", "%_*", "\u2028\u00a0", "a\nb",
]

NASTY_KEYS = ["o.'; DROP TABLE x; --", 'o."quoted"', "o.\\", "o.{a,b}", "o.ünï", "o.a b", "o.%s"]


def _families(v):
    """One `where` per operator family with the hostile text `v` as its value."""
    return [
        {"s": v}, {"s": {"$ne": v}}, {"s": {"$gt": v}}, {"s": {"$in": [v, 1]}}, {"s": {"$nin": [v]}},
        {"tags": {"$all": [v]}}, {"tags": {"$containedBy": [v]}}, {"o": {"t": v}},
        {"s": {"$regex": "\\Q" + v + "\\E"}}, {"s": {"$regex": v}},
        {"body": {"$text": {"$search": {"$term": v}}}},
        {"ptr": {"$inQuery": {"className": "Other", "where": {"k": v}}}},
        {"s": {"$select": {"query": {"className": "Other", "where": {"k": {"$ne": v}}}, "key": "k"}}},
        {"objectId": v}, {"createdAt": {"$lt": v}}, {"when": {"$gt": {"__type": "Date", "iso": v}}},
        {"ptr": {"__type": "Pointer", "className": "Other", "objectId": v}},
        {"f": {"__type": "File", "name": v, "url": v}},
    ]


async def test_hostile_values_and_keys(runtime, things):
    stored = {}
    for i, v in enumerate(NASTY):
        stored[v] = f"n{i}"
        await create(runtime, "Thing", {"name": f"n{i}", "s": v, "tags": [v], "o": {"t": v}})
    before = await runtime.gateway.fetchval('SELECT count(*) FROM "p_Thing"')
    for v in NASTY:
        for where in _families(v):
            try:
                await names(runtime, where)
            except ParseError:
                pass
        assert await names(runtime, {"s": v}) == [stored[v]]
        assert await names(runtime, {"tags": {"$all": [v]}}) == [stored[v]]
        assert await names(runtime, {"tags": {"$containedBy": [v]}}) == sorted(["c", stored[v]])
        assert await names(runtime, {"o.t": v}) == [stored[v]]
        assert await names(runtime, {"s": {"$regex": "^\\Q" + v + "\\E$"}}) == [stored[v]]
        assert await names(runtime, {"s": {"$in": [v]}}) == [stored[v]]
        assert stored[v] not in await names(runtime, {"s": {"$ne": v}})
    for key in NASTY_KEYS:
        for where in [{key: 1}, {key: {"$ne": 1}}, {key: {"$exists": True}}, {key: {"$in": [1]}},
                      {key: {"$regex": "x"}}, {key: {"$gt": "'"}}, {key: {"$all": ["'"]}},
                      {key: {"$nearSphere": G(0, 0)}}, {key: {"$text": {"$search": {"$term": "x"}}}}]:
            try:
                await names(runtime, where)
            except ParseError:
                pass
    for where in [{"s": "a\x00b"}, {"s": {"$regex": "a\x00"}}, {"o.a\x00b": 1}, {"s": {"$in": ["\x00"]}},
                  {"body": {"$text": {"$search": {"$term": "\x00"}}}}]:
        try:
            await names(runtime, where)
            raise AssertionError(f"NUL accepted in {where!r}")
        except ParseError as e:
            assert e.code in (ParseError.INVALID_QUERY, ParseError.INVALID_KEY_NAME)
    for bad_key in ["a'b", "a;b", "$where", "a.$b", "'; DROP TABLE x; --"]:
        with pytest.raises(ParseError):
            parse_where({bad_key: 1})
    with pytest.raises(ParseError):
        parse_where({"ptr": {"$inQuery": {"className": 'Other"; DROP TABLE x; --', "where": {}}}})
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Thing"') == before
    assert await runtime.gateway.fetchval('SELECT count(*) FROM "p_Other"') == 2
    assert await runtime.gateway.fetchval("SELECT to_regclass('parsnip_events') IS NOT NULL")


async def test_hostile_dotted_keys_find_their_values(runtime):
    for i, seg in enumerate(["'; DROP TABLE x; --", '"q"', "\\", "{a,b}", "ünï", "a b"]):
        await create(runtime, "Odd", {"name": f"k{i}", "o": {seg: i}})
        assert await names(runtime, {f"o.{seg}": i}, "Odd") == [f"k{i}"]
        assert await names(runtime, {f"o.{seg}": {"$gte": i}}, "Odd") == [f"k{i}"]
        assert await names(runtime, {f"o.{seg}": {"$exists": True}}, "Odd") == [f"k{i}"]


# -- the GIN index -------------------------------------------------------------------------

async def _plan(rt, where, cls="Big"):
    params = Params()
    cond = compile_where(parse_where(where), params)
    plan = await rt.gateway.fetchval(f'EXPLAIN (FORMAT JSON) SELECT object_id FROM "p_{cls}" WHERE {cond}',
                                     *params.values)
    return json.dumps(plan if not isinstance(plan, str) else json.loads(plan))


async def test_top_level_equality_uses_the_gin_index(runtime):
    await create(runtime, "Big", {"k": "seed", "n": 0, "tags": ["t"]})
    await runtime.gateway.execute(
        'INSERT INTO "p_Big" (object_id, version, created_at, updated_at, data)'
        " SELECT 'id' || i, 1, now(), now(), jsonb_build_object('k', 'key' || i, 'n', i,"
        " 'tags', jsonb_build_array('t' || (i % 100)))"
        " FROM generate_series(1, 5000) AS i")
    # VACUUM merges the GIN index's pending list (as autovacuum would), ANALYZE gives the stats.
    await runtime.gateway.execute('VACUUM ANALYZE "p_Big"')
    for where in [{"k": "key42"}, {"n": 42}, {"tags": "t7"}, {"k": {"$in": ["key1", "key2"]}},
                  {"tags": {"$all": ["t1"]}}]:
        plan = await _plan(runtime, where)
        assert "p_Big_data" in plan, (where, plan)
    assert await names(runtime, {"k": {"$in": ["key1", "key2"]}}, "Big") == [None, None]
