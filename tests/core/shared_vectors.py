"""Shared query test vectors: objects of every field type and (where, expected keys) cases.

Both evaluators run them (tests/core/test_evaluators_agree.py): the SQL compiler over real
projections and the in-memory matcher over the same objects as the REST API returns them.
Expectations follow Parse's documented (MongoDB) semantics; where Parse Server on PostgreSQL
differs (equality on arrays, $ne/$nin on missing fields, regex m/s), the documented one wins.
"""

from __future__ import annotations


def date(iso: str) -> dict:
    return {"__type": "Date", "iso": iso}


def ptr(oid: str) -> dict:
    return {"__type": "Pointer", "className": "Owner", "objectId": oid}


def geo(lat: float, lng: float) -> dict:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


OBJECTS = [
    {"k": "a", "s": "apple", "n": 1, "b": True, "a": ["x", "y"], "o": {"k": 1, "t": "p"},
     "d": date("2020-01-01T00:00:00.000Z"), "p": ptr("o1"), "g": geo(10, 20), "nums": [1, 2, 3],
     "poly": {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [10, 10], [10, 0]]},
     "f": {"__type": "File", "name": "a.txt", "url": "http://x/a.txt"}, "by": {"__type": "Bytes", "base64": "YQ=="}},
    {"k": "b", "s": "banana", "n": 2.5, "b": False, "a": ["y"], "o": {"k": 2},
     "d": date("2021-06-01T00:00:00.000Z"), "p": ptr("o2"), "g": geo(-10, -20), "nums": [3, 4]},
    {"k": "c", "s": "Cherry\nPie", "n": -3, "a": [], "o": {"k": 1},
     "d": date("2019-12-31T23:59:59.999Z"), "g": geo(10.5, 20.5), "nums": []},
    {"k": "d", "s": "date", "n": 100, "b": True, "a": ["x", 1], "p": ptr("o1")},
    {"k": "e"},
    {"k": "f", "s": "apple pie", "n": 0, "b": False, "a": ["z", "x", "y"], "o": {"k": 3, "t": "q"}, "nums": [1]},
]

ALL = "abcdef"

CASES = [
    ("empty", {}, ALL),
    ("eq string", {"s": "apple"}, "a"),
    ("eq number", {"n": 2.5}, "b"),
    ("eq int as float", {"n": 1.0}, "a"),
    ("eq bool", {"b": True}, "ad"),
    ("$eq", {"n": {"$eq": 100}}, "d"),
    ("eq array contains", {"a": "x"}, "adf"),
    ("eq array contains number", {"a": 1}, "d"),
    ("eq null matches missing", {"b": None}, "ce"),
    ("eq whole array", {"a": ["x", "y"]}, "a"),
    ("eq object", {"o": {"k": 2}}, "b"),
    ("eq file by name", {"f": {"__type": "File", "name": "a.txt"}}, "a"),
    ("eq bytes", {"by": {"__type": "Bytes", "base64": "YQ=="}}, "a"),
    ("$ne string", {"s": {"$ne": "apple"}}, "bcdef"),
    ("$ne bool", {"b": {"$ne": True}}, "bcef"),
    ("$ne array", {"a": {"$ne": "x"}}, "bce"),
    ("$lt", {"n": {"$lt": 1}}, "cf"),
    ("$lte", {"n": {"$lte": 1}}, "acf"),
    ("$gt", {"n": {"$gt": 2}}, "bd"),
    ("$gte float", {"n": {"$gte": 2.5}}, "bd"),
    ("range", {"n": {"$gt": 0, "$lt": 50}}, "ab"),
    ("string $gt", {"s": {"$gt": "b"}}, "bd"),
    ("string $lt is code point order", {"s": {"$lt": "a"}}, "c"),
    ("number vs string never compares", {"n": {"$gt": "a"}}, ""),
    ("date $lt", {"d": {"$lt": date("2020-06-01T00:00:00.000Z")}}, "ac"),
    ("date $gte", {"d": {"$gte": date("2021-06-01T00:00:00.000Z")}}, "b"),
    ("date eq", {"d": date("2020-01-01T00:00:00.000Z")}, "a"),
    ("createdAt exists", {"createdAt": {"$exists": True}}, ALL),
    ("createdAt in the past", {"createdAt": {"$lt": date("2100-01-01T00:00:00.000Z")}}, ALL),
    ("$in", {"s": {"$in": ["apple", "date", "zzz"]}}, "ad"),
    ("$in on array", {"a": {"$in": ["z", 1]}}, "df"),
    ("$in with null", {"b": {"$in": [None, False]}}, "bcef"),
    ("$in empty", {"s": {"$in": []}}, ""),
    ("$nin", {"s": {"$nin": ["apple", "banana"]}}, "cdef"),
    ("$nin on array", {"a": {"$nin": ["x"]}}, "bce"),
    ("$all", {"a": {"$all": ["x", "y"]}}, "af"),
    ("$all number", {"nums": {"$all": [3]}}, "ab"),
    ("$containedBy", {"a": {"$containedBy": ["x", "y"]}}, "abc"),
    ("$exists true", {"b": {"$exists": True}}, "abdf"),
    ("$exists false", {"o": {"$exists": False}}, "de"),
    ("dotted eq", {"o.k": 1}, "ac"),
    ("dotted gt", {"o.k": {"$gt": 1}}, "bf"),
    ("dotted exists", {"o.t": {"$exists": True}}, "af"),
    ("dotted $in", {"o.t": {"$in": ["q", "r"]}}, "f"),
    ("regex", {"s": {"$regex": "^app"}}, "af"),
    ("regex i", {"s": {"$regex": "^cherry", "$options": "i"}}, "c"),
    ("regex m", {"s": {"$regex": "^Pie", "$options": "m"}}, "c"),
    ("regex without m", {"s": {"$regex": "^Pie"}}, ""),
    ("regex s", {"s": {"$regex": "Cherry.Pie", "$options": "s"}}, "c"),
    ("regex without s", {"s": {"$regex": "Cherry.Pie"}}, ""),
    ("regex x", {"s": {"$regex": "ban ana", "$options": "x"}}, "b"),
    ("regex on array", {"a": {"$regex": "^z"}}, "f"),
    ("regex quoted", {"s": {"$regex": "\\Qapple pie\\E"}}, "f"),
    ("regex quoted metacharacters", {"s": {"$regex": "\\Q.*\\E"}}, ""),
    ("pointer eq", {"p": ptr("o1")}, "ad"),
    ("pointer $in", {"p": {"$in": [ptr("o2")]}}, "b"),
    ("pointer $ne", {"p": {"$ne": ptr("o1")}}, "bcef"),
    ("$or", {"$or": [{"n": 1}, {"s": "date"}]}, "ad"),
    ("$and", {"$and": [{"b": True}, {"n": {"$gt": 50}}]}, "d"),
    ("$nor", {"$nor": [{"b": True}, {"n": {"$lt": 0}}]}, "bef"),
    ("nested or/and", {"$or": [{"$and": [{"b": False}, {"n": 0}]}, {"s": "banana"}]}, "bf"),
    ("$near within 100 km", {"g": {"$nearSphere": geo(10, 20), "$maxDistanceInKilometers": 100}}, "ac"),
    ("$near anywhere", {"g": {"$nearSphere": geo(0, 0)}}, "abc"),
    ("$near in miles", {"g": {"$nearSphere": geo(10, 20), "$maxDistanceInMiles": 10}}, "a"),
    ("$box", {"g": {"$within": {"$box": [geo(0, 0), geo(11, 21)]}}}, "ac"),
    ("$polygon", {"g": {"$geoWithin": {"$polygon": [geo(0, 0), geo(0, 30), geo(15, 30), geo(15, 0)]}}}, "ac"),
    ("$centerSphere", {"g": {"$geoWithin": {"$centerSphere": [[20, 10], 0.02]}}}, "ac"),
    ("$geoIntersects inside", {"poly": {"$geoIntersects": {"$point": geo(5, 5)}}}, "a"),
    ("$geoIntersects outside", {"poly": {"$geoIntersects": {"$point": geo(20, 20)}}}, ""),
]
