"""ParseObject's local bookkeeping, without a server: changes merge as the JS SDK merges them
and the object's estimate is what the server will store; Parse values survive the codec both
ways; and outside a running server a call says so instead of hanging or guessing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import trio
from hypothesis import given, settings, strategies as st

from parsnip.cloud import ParseObject, ParseQuery
from parsnip.core.cloud import codec
from parsnip.core.cloud.binding import OUTSIDE
from parsnip.core.operations import apply, parse_op

_ITEMS = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "c"]))
_CHANGE = st.one_of(
    st.tuples(st.just("set"), st.one_of(st.integers(-5, 5), st.lists(_ITEMS, max_size=3))),
    st.tuples(st.just("unset")),
    st.tuples(st.just("increment"), st.integers(-3, 3)),
    st.tuples(st.sampled_from(["add", "add_unique", "remove"]), st.lists(_ITEMS, max_size=3)),
)
_START = st.one_of(st.none(), st.integers(-5, 5), st.lists(_ITEMS, max_size=4))


@settings(max_examples=300, deadline=None)
@given(_START, st.lists(_CHANGE, min_size=1, max_size=5))
def test_the_estimate_is_what_the_server_stores_from_the_save_body(start, changes):
    obj = ParseObject.from_json({"objectId": "x1", **({} if start is None else {"f": start})}, "Thing")
    for method, *args in changes:
        try:
            if method in ("add", "add_unique", "remove"):
                getattr(obj, method)("f", *args[0])
            else:
                getattr(obj, method)("f", *args)
        except (TypeError, ValueError):  # a change the JS SDK refuses too (increment a list, ...)
            return
    body = obj.save_body()
    present, stored = apply(parse_op(body["f"]), start, start is not None)
    missing = object()
    assert (present, stored if present else missing) == (obj.get("f", missing) is not missing, obj.get("f", missing))


@pytest.mark.parametrize("calls, op", [
    ([("increment", 1), ("increment", 2)], {"__op": "Increment", "amount": 3}),
    ([("set", 4), ("increment", 2)], 6),
    ([("unset",), ("increment", 2)], 2),
    ([("add", "a"), ("add", "b")], {"__op": "Add", "objects": ["a", "b"]}),
    ([("add_unique", "a"), ("add_unique", "a", "b")], {"__op": "AddUnique", "objects": ["a", "b"]}),
    ([("remove", "a"), ("remove", "b")], {"__op": "Remove", "objects": ["a", "b"]}),
    ([("unset",), ("remove", "b")], {"__op": "Delete"}),
])
def test_changes_merge_as_the_js_sdk_merges_them(calls, op):
    obj = ParseObject.from_json({"objectId": "x1"}, "Thing")
    for method, *args in calls:
        getattr(obj, method)("f", *args)
    assert obj.save_body() == {"f": op}


def test_incompatible_changes_ask_for_a_save_first():
    obj = ParseObject.from_json({"objectId": "x1", "f": [1]}, "Thing")
    obj.add("f", 2)
    with pytest.raises(ValueError, match="save first"):
        obj.remove("f", 1)


def test_a_list_changed_in_place_is_saved():
    obj = ParseObject.from_json({"objectId": "x1", "f": [1]}, "Thing")
    assert not obj.dirty
    obj.get("f").append(2)
    assert obj.dirty and obj.save_body() == {"f": [1, 2]}


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
              st.builds(lambda ms: {"__type": "Date", "iso": datetime.fromtimestamp(ms / 1000, timezone.utc)
                                    .strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"},
                        st.integers(0, 4_000_000_000_000)),
              st.builds(lambda c, i: {"__type": "Pointer", "className": c, "objectId": i},
                        st.sampled_from(["Post", "_User"]), st.text("abcdef0123", min_size=1, max_size=10)),
              st.builds(lambda lat: {"__type": "GeoPoint", "latitude": lat, "longitude": 0}, st.integers(-90, 90))),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text("xyz", min_size=1, max_size=3), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_parse_values_survive_decoding_and_encoding(value):
    assert codec.encode(codec.decode(value)) == value


def test_a_fetched_object_encodes_whole_and_nested_ones_once():
    post = ParseObject.from_json({"objectId": "p1", "title": "t", "createdAt": "2020-01-01T00:00:00.000Z",
                                  "again": {"__type": "Object", "className": "Post", "objectId": "p1", "title": "t"},
                                  "other": {"__type": "Object", "className": "Post", "objectId": "p2", "n": 1}},
                                 "Post")
    assert codec.encode(post) == {
        "objectId": "p1", "title": "t", "createdAt": "2020-01-01T00:00:00.000Z", "__type": "Object",
        "className": "Post",
        "again": {"__type": "Pointer", "className": "Post", "objectId": "p1"},  # already being encoded
        "other": {"__type": "Object", "className": "Post", "objectId": "p2", "n": 1}}
    post.set("title", "changed")  # unsaved changes: a pointer, as Parse encodes a dirty object
    assert codec.encode(post) == {"__type": "Pointer", "className": "Post", "objectId": "p1"}


@pytest.mark.parametrize("call", [
    lambda: ParseObject("Thing").save(),
    lambda: ParseObject("Thing", {"objectId": "x"}).fetch(),
    lambda: ParseQuery("Thing").find(),
    lambda: ParseQuery("Thing").count(master=True),
])
def test_outside_a_running_server_a_call_says_so(call):
    async def main():
        with pytest.raises(RuntimeError, match="inside a running Parsnip server"):
            await call()

    trio.run(main)
    with pytest.raises(RuntimeError, match="inside a running Parsnip server"):
        trio.run(call)  # and without any trio run of ours around it
    assert "inside a running Parsnip server" in OUTSIDE
