"""A schema API change planned against the class as it stands: Parse Server's checks, in
Parse's order, and the schema event payload (core/events.py: SCHEMA, PURGE) that makes it.

Pure functions: the writer calls them inside its transaction with the class as stored there,
so what is checked is what is changed. Where Parse Server checks part of a change only after
applying the rest, everything here is checked first and the change is all or nothing.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from parsnip.core import js, schema_clp
from parsnip.core.commands import CREATE_CLASS, DROP_CLASS, PURGE_CLASS, UNSET, UPDATE_CLASS, SchemaChange
from parsnip.core.errors import ParseError
from parsnip.core.schema import (
    BUILT_IN_CLASSES, DEFAULT_FIELDS, SYSTEM_FIELDS, VOLATILE_CLASSES, ClassSchema, check_class_name,
    class_fields, describe, same_type,
)
from parsnip.core.values import type_of

PRIMARY_INDEX = "_id_"
_PRIMARY = {PRIMARY_INDEX: {"_id": 1}}
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\Z")
_TYPES = frozenset({"Number", "String", "Boolean", "Date", "Object", "Array", "GeoPoint", "File", "Bytes",
                    "Polygon"})
# Codes Parse Server answers with that have no name in the SDKs.
NEEDS_CLASS_NAME = 135
CANNOT_CHANGE_FIELD = 136


def exists(name: str, current: ClassSchema | None) -> bool:
    """Stored, or one of the classes Parse Server always has (built in, or kept in memory)."""
    return current is not None or name in BUILT_IN_CLASSES or name in VOLATILE_CLASSES


def plan(change: SchemaChange, current: ClassSchema | None, count: int | None = None,
         custom_ids: bool = False) -> dict | None:
    """The payload of the event that makes `change` to the class `current` (None: not stored),
    or None when there is nothing to do. `count` is the number of objects, for drop and purge."""
    user_id = schema_clp.CUSTOM_USER_ID if custom_ids else schema_clp.USER_ID
    if change.action == CREATE_CLASS:
        return _create(change, current, user_id)
    if change.action == UPDATE_CLASS:
        return _update(change, current, user_id)
    if change.action == DROP_CLASS:
        if current is None:
            return None
        if count:
            raise ParseError(ParseError.INVALID_SCHEMA_OPERATION,
                             f"Class {change.class_name} is not empty, contains {count} objects, cannot drop schema.")
        return {"drop_class": True}
    if change.action == PURGE_CLASS:
        return {"count": count} if current is not None and count else None
    raise ValueError(f"unknown schema action {change.action}")


# -- create ------------------------------------------------------------------------------------

def _create(change: SchemaChange, current: ClassSchema | None, user_id: re.Pattern) -> dict:
    name = change.class_name
    if exists(name, current):
        raise ParseError(ParseError.INVALID_CLASS_NAME, f"Class {name} already exists.")
    check_class_name(name)
    added: dict[str, Any] = {}
    for field in js.keys(change.fields):
        t = js.get(change.fields, field)
        _check_new_field(name, field, t)
        added[field] = t
    with_defaults = {**added, **SYSTEM_FIELDS.get(name, {})}
    _check_geo_points(with_defaults)
    if change.clp is not UNSET:
        schema_clp.validate(change.clp, with_defaults, user_id)
    payload: dict[str, Any] = {"new_class": True}
    if added:
        payload["fields"] = added
    if change.clp is not UNSET and (stored := schema_clp.stored_form(change.clp)) is not None:
        payload["clp"] = stored
    if change.indexes is not UNSET and js.keys(change.indexes):
        # Parse Server indexes what it stores: the object's own columns, not the ACL.
        available = {**{f: t for f, t in DEFAULT_FIELDS.items() if f != "ACL"}, **with_defaults}
        new, _dropped = _plan_indexes(change.indexes, {}, available)
        payload["indexes"] = {**_PRIMARY, **new}
    return payload


# -- update ------------------------------------------------------------------------------------

def _update(change: SchemaChange, current: ClassSchema | None, user_id: re.Pattern) -> dict | None:
    name = change.class_name
    if current is None and name not in BUILT_IN_CLASSES:
        raise ParseError(ParseError.INVALID_CLASS_NAME, f"Class {name} does not exist.")
    stored = current or ClassSchema()
    existing = {**class_fields(name), **stored.fields}
    submitted = change.fields if js.truthy(change.fields) else {}
    names = js.keys(submitted)
    deleting = {f for f in names if _is_delete(js.get(submitted, f))}
    for field in names:
        t = js.get(submitted, field)
        if field in existing and field not in deleting and existing[field].get("type") != _type_name(t):
            raise ParseError(ParseError.INVALID_SCHEMA_OPERATION, f"Field {field} exists, cannot update.")
        if field not in existing and field in deleting:
            raise ParseError(ParseError.INVALID_SCHEMA_OPERATION, f"Field {field} does not exist, cannot delete.")
    # The class's fields after the change: what it has, less what goes, plus what comes.
    merged = {f: t for f, t in ordered(stored.fields).items() if f not in deleting}
    for field in names:
        if field not in deleting and field != "objectId":
            merged[field] = js.get(submitted, field)
    for field, t in merged.items():
        if field not in existing:
            _check_new_field(name, field, t)
    with_defaults = {**merged, **SYSTEM_FIELDS.get(name, {})}
    _check_geo_points(with_defaults)
    if change.clp is not UNSET:
        schema_clp.validate(change.clp, with_defaults, user_id)
    for field in names:
        if field in deleting and field in class_fields(name):
            raise ParseError(CANNOT_CHANGE_FIELD, f"field {field} cannot be changed")
    for field in names:
        t = js.get(submitted, field)
        if field not in deleting and field in existing and not same_type(existing[field], t):
            raise ParseError(
                ParseError.INCORRECT_TYPE,
                f"schema mismatch for {name}.{field}; expected {describe(existing[field])} but got {describe(t)}",
            )

    payload: dict[str, Any] = {}
    if current is None:  # a built-in class not stored yet
        payload["new_class"] = True
    deleted = [f for f in names if f in deleting]
    if deleted:
        payload["deleted_fields"] = deleted
    added = {f: js.get(submitted, f) for f in names if f not in deleting and f not in existing}
    if added:
        payload["fields"] = added
    if change.clp is not UNSET:
        payload["clp"] = schema_clp.stored_form(change.clp)
    indexes = dict(stored.indexes)
    on_deleted = [i for i, keys in indexes.items() if i != PRIMARY_INDEX and set(keys) & deleting]
    new: dict[str, Any] = {}
    dropped = list(on_deleted)
    if change.indexes is not UNSET and change.indexes is not None:
        for i in on_deleted:
            indexes.pop(i)
        available = {**merged, **(SYSTEM_FIELDS.get(name) or DEFAULT_FIELDS)}
        new, more = _plan_indexes(change.indexes, indexes, available)
        dropped += more
        if not indexes:  # the first index change records the primary key, as Parse Server does
            new = {**_PRIMARY, **new}
    if new:
        payload["indexes"] = new
    if dropped:
        payload["dropped_indexes"] = dropped
    return payload if set(payload) - {"new_class"} else None


# -- checks ------------------------------------------------------------------------------------

def _is_delete(t: Any) -> bool:
    return isinstance(t, dict) and t.get("__op") == "Delete"


def _type_name(t: Any) -> Any:
    return t.get("type") if isinstance(t, dict) else None


def _check_new_field(cls: str, field: str, t: Any) -> None:
    """A field the class does not have yet: its name (105, 136), type and options."""
    if not _FIELD_NAME.match(field) or field == "length" or (field == "className" and cls != "_Hooks"):
        raise ParseError(ParseError.INVALID_KEY_NAME, f"invalid field name: {field}")
    if field in class_fields(cls):
        raise ParseError(CANNOT_CHANGE_FIELD, f"field {field} cannot be added")
    check_type(t)
    if "defaultValue" in t:
        got = type_of(t["defaultValue"])
        if got is None:  # Parse Server fails with a 500 here
            raise ParseError(ParseError.INCORRECT_TYPE,
                             f"schema mismatch for {cls}.{field} default value; expected {describe(t)} but got null")
        if t["type"] == "Relation" and got["type"] in ("Pointer", "Relation"):
            raise ParseError(ParseError.INCORRECT_TYPE,
                             f"The 'default value' option is not applicable for {describe(t)}")
        if not same_type(t, got):
            raise ParseError(
                ParseError.INCORRECT_TYPE,
                f"schema mismatch for {cls}.{field} default value; expected {describe(t)} but got {describe(got)}",
            )
    elif js.truthy(t.get("required")) and t["type"] == "Relation":
        raise ParseError(ParseError.INCORRECT_TYPE, f"The 'required' option is not applicable for {describe(t)}")


def check_type(t: Any) -> None:
    """A field type as the schema API takes it: {"type": ..., "targetClass": ...}."""
    if not isinstance(t, dict):
        raise ParseError(ParseError.INVALID_JSON, "invalid JSON")
    kind, target = t.get("type"), t.get("targetClass")
    if kind in ("Pointer", "Relation"):
        if not js.truthy(target):
            raise ParseError(NEEDS_CLASS_NAME, f"type {kind} needs a class name")
        if not isinstance(target, str):
            raise ParseError(ParseError.INVALID_JSON, "invalid JSON")
        check_class_name(target)
        return
    if not isinstance(kind, str):
        raise ParseError(ParseError.INVALID_JSON, "invalid JSON")
    if kind not in _TYPES:
        raise ParseError(ParseError.INCORRECT_TYPE, f"invalid field type: {kind}")


def _check_geo_points(fields: Mapping[str, Any]) -> None:
    geo = [f for f, t in fields.items() if isinstance(t, dict) and t.get("type") == "GeoPoint"]
    if len(geo) > 1:
        raise ParseError(
            ParseError.INCORRECT_TYPE,
            f"currently, only one GeoPoint field may exist in an object. Adding {geo[1]} when {geo[0]} already exists.",
        )


def _plan_indexes(submitted: Any, existing: dict[str, Any], available: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], list[str]]:
    """Indexes to add and to drop; 102 as Parse Server answers, and where it would fail with a 500."""
    current = dict(existing) or dict(_PRIMARY)
    added: dict[str, Any] = {}
    dropped: list[str] = []
    for name in js.keys(submitted):
        keys = js.get(submitted, name)
        deleting = _is_delete(keys)
        if name in current and not deleting:
            raise ParseError(ParseError.INVALID_QUERY, f"Index {name} exists, cannot update.")
        if name not in current and deleting:
            raise ParseError(ParseError.INVALID_QUERY, f"Index {name} does not exist, cannot delete.")
        if deleting:
            if name == PRIMARY_INDEX:
                raise ParseError(ParseError.INVALID_QUERY, f"Index {name} cannot be deleted.")
            dropped.append(name)
            current.pop(name)
            continue
        for field in js.keys(keys):
            if field not in available:
                raise ParseError(ParseError.INVALID_QUERY, f"Field {field} does not exist, cannot add index.")
        _check_index_keys(name, keys)
        current[name] = added[name] = keys
    return added, dropped


def _check_index_keys(name: str, keys: Any) -> None:
    """What PostgreSQL could not build (Parse Server answers 500 for these)."""
    if not isinstance(keys, dict) or not keys:
        raise ParseError(ParseError.INVALID_QUERY, f"Index {name} must name at least one field.")
    text = [v == "text" for v in keys.values()]
    if any(text) and not all(text):
        raise ParseError(ParseError.INVALID_QUERY, f"Index {name} mixes text and ordered keys.")


def ordered(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Keys in the order PostgreSQL's jsonb keeps them (shorter first, then bytewise), which is
    the order Parse Server on PostgreSQL shows stored fields in."""
    return {k: mapping[k] for k in sorted(mapping, key=lambda k: (len(k.encode()), k.encode()))}
