"""The schema as pure functions: how events change a class, the cache's guard against late
events, Parse's implicit fields in type checks, and the JavaScript reading of odd JSON."""

from __future__ import annotations

import pytest

from parsnip.core import js, schema_clp
from parsnip.core.commands import DROP_CLASS, PURGE_CLASS, SchemaChange
from parsnip.core.errors import ParseError
from parsnip.core.schema import ClassSchema, SchemaCache, SchemaOverlay, evolve
from parsnip.core.schema_plan import plan

S, N = {"type": "String"}, {"type": "Number"}


def test_evolve_applies_every_payload_key():
    c = evolve(None, {"new_class": True, "fields": {"a": S, "b": N}, "clp": {"find": {}},
                      "indexes": {"_id_": {"_id": 1}, "i": {"a": 1}}})
    assert c == ClassSchema({"a": S, "b": N}, {"classLevelPermissions": {"find": {}},
                                               "indexes": {"_id_": {"_id": 1}, "i": {"a": 1}}})
    c = evolve(c, {"deleted_fields": ["a"], "clp": None, "dropped_indexes": ["i"]})
    assert c == ClassSchema({"b": N}, {"indexes": {"_id_": {"_id": 1}}})
    assert evolve(c, {"drop_class": True}) is None


def test_a_late_copy_of_an_old_event_does_not_undo_a_newer_one():
    cache = SchemaCache()
    cache.apply_event("K", {"new_class": True, "fields": {"f": S}}, 5)
    cache.apply_event("K", {"deleted_fields": ["f"]}, 6)
    cache.apply_event("K", {"new_class": True, "fields": {"f": S}}, 5)  # the follower's copy, late
    assert dict(cache.fields("K")) == {}
    cache.apply_event("K", {"drop_class": True}, 7)
    cache.apply_event("K", {"deleted_fields": ["f"]}, 6)
    assert not cache.has_class("K")


def test_system_fields_are_type_checked_before_the_class_exists():
    overlay = SchemaOverlay(SchemaCache())
    with pytest.raises(ParseError) as e:
        overlay.plan("_User", {"username": N})
    assert (e.value.code, e.value.message) == (111, "schema mismatch for _User.username; expected String but got Number")
    is_new, added = overlay.plan("_User", {"username": S, "nick": S})
    assert is_new and added == {"nick": S}  # the implicit fields are never stored
    cache = SchemaCache()
    cache.apply_event("_Role", {"new_class": True, "fields": {"rank": N}})
    assert cache.fields("_Role")["users"] == {"type": "Relation", "targetClass": "_User"}
    assert cache.fields("_Role")["rank"] == N and cache.snapshot("_Role").fields == {"rank": N}


@pytest.mark.parametrize("action, count, payload", [
    (DROP_CLASS, 0, {"drop_class": True}),
    (PURGE_CLASS, 3, {"count": 3}),
    (PURGE_CLASS, 0, None),
])
def test_drop_and_purge(action, count, payload):
    assert plan(SchemaChange("K", action), ClassSchema(), count) == payload
    assert plan(SchemaChange("K", action), None, None) is None


def test_drop_of_a_class_with_objects_is_255():
    with pytest.raises(ParseError) as e:
        plan(SchemaChange("K", DROP_CLASS), ClassSchema(), 3)
    assert (e.value.code, e.value.message) == (255, "Class K is not empty, contains 3 objects, cannot drop schema.")


@pytest.mark.parametrize("perms, stored", [
    (None, None), (False, None), ("", None), (0, None),
    (5, schema_clp.EMPTY), ([], schema_clp.EMPTY),
    ({"get": {"*": True}}, {**schema_clp.EMPTY, "get": {"*": True}}),
])
def test_permissions_are_stored_with_every_operation(perms, stored):
    """So an operation left out is refused to clients, as Parse Server reads a stored CLP."""
    assert schema_clp.stored_form(perms) == stored


def test_javascript_reading():
    assert js.keys({"b": 1, "10": 2, "2": 3, "a": 4, "01": 5}) == ["2", "10", "b", "a", "01"]
    assert js.keys("ab") == ["0", "1"] and js.keys([7]) == ["0"] and js.keys(5) == []
    assert [js.text(v) for v in (None, True, 1.0, 1.5, [1, None, "x"], {"a": 1}, "s")] == [
        "null", "true", "1", "1.5", "1,,x", "[object Object]", "s"]
