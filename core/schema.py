"""Class and field names, and the schema: inferred on first write, enforced after.

The schema is itself event-sourced: a write that introduces a class or a field carries a schema
event in the same transaction, so replaying the log rebuilds the schema too. `SchemaCache` is
this node's view, updated from committed schema events; the writer checks types against it
plus the schema changes of the batch it is building (`SchemaOverlay`).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from core.errors import ParseError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

SYSTEM_CLASSES = frozenset(
    {"_User", "_Role", "_Session", "_Installation", "_Product", "_PushStatus", "_JobStatus",
     "_JobSchedule", "_Audience", "_Idempotency", "_GlobalConfig", "_GraphQLConfig", "_Hooks"}
)

# Fields every object has; they live in columns of their own, not in `data`.
DEFAULT_FIELDS: dict[str, dict] = {
    "objectId": {"type": "String"},
    "createdAt": {"type": "Date"},
    "updatedAt": {"type": "Date"},
    "ACL": {"type": "ACL"},
}


def check_class_name(name: str) -> None:
    """103 unless `name` is a valid user class name or a system class."""
    if name in SYSTEM_CLASSES:
        return
    if not _NAME.match(name or ""):
        raise ParseError(
            ParseError.INVALID_CLASS_NAME,
            f"Invalid classname: {name}, classnames can only have alphanumeric characters and _, "
            "and must start with an alpha character ",
        )


def check_field_name(name: str) -> None:
    """105 unless `name` may be set by a client as a field."""
    if not _NAME.match(name):
        raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid field name: {name}.")


def same_type(a: Mapping, b: Mapping) -> bool:
    return a.get("type") == b.get("type") and a.get("targetClass") == b.get("targetClass")


def describe(t: Mapping) -> str:
    if t.get("targetClass"):
        return f"{t['type']}<{t['targetClass']}>"
    return str(t["type"])


class SchemaCache:
    """This node's schema: class name -> {field: type}, and each class's options (its
    classLevelPermissions, ...). Only committed schema events change it."""

    def __init__(self) -> None:
        self._classes: dict[str, dict[str, dict]] = {}
        self._options: dict[str, dict] = {}

    def load(self, rows: Iterable[tuple[str, str | None, dict | None]]) -> None:
        """Fill from stored (class, field, type) rows; a row with field None declares the class
        and carries its options."""
        for cls, field, t in rows:
            fields = self._classes.setdefault(cls, {})
            if field is not None:
                fields[field] = t
            elif t:
                self._options[cls] = dict(t)

    def apply_event(self, class_name: str, payload: Mapping) -> None:
        """Apply a committed schema event's payload (see `core/events.py: SCHEMA`)."""
        self._classes.setdefault(class_name, {}).update(payload.get("fields", {}))
        if "clp" in payload:
            self._options.setdefault(class_name, {})["classLevelPermissions"] = payload["clp"]

    def clp(self, name: str) -> dict | None:
        """The class's stored classLevelPermissions; None when none were set (the defaults apply)."""
        return self._options.get(name, {}).get("classLevelPermissions")

    def has_class(self, name: str) -> bool:
        return name in self._classes

    def fields(self, name: str) -> dict[str, dict]:
        return self._classes.get(name, {})

    def class_names(self) -> list[str]:
        return sorted(self._classes)

    def to_json(self, name: str) -> dict:
        """The class as GET /schemas shows it."""
        return {"className": name, "fields": {**DEFAULT_FIELDS, **self.fields(name)}}


class SchemaOverlay:
    """The schema changes of the writes in one batch, checked against the cache and each other."""

    def __init__(self, cache: SchemaCache) -> None:
        self.cache = cache
        self.new_classes: set[str] = set()
        self.new_fields: dict[str, dict[str, dict]] = {}

    def has_class(self, name: str) -> bool:
        return self.cache.has_class(name) or name in self.new_classes

    def field_type(self, cls: str, field: str) -> dict | None:
        return self.new_fields.get(cls, {}).get(field) or self.cache.fields(cls).get(field)

    def child(self) -> "SchemaOverlay":
        """An overlay for one write; `merge` it into this one when that write succeeds."""
        c = SchemaOverlay(self.cache)
        c.new_classes = set(self.new_classes)
        c.new_fields = {k: dict(v) for k, v in self.new_fields.items()}
        return c

    def plan(self, cls: str, types: Mapping[str, dict | None]) -> tuple[bool, dict[str, dict]]:
        """Check field types for a write to `cls`: (class is new, fields that are new). 111 on a clash."""
        added: dict[str, dict] = {}
        for field, t in types.items():
            if t is None or field.startswith("_"):  # server-internal (_hashed_password, ...): not in the schema
                continue
            known = self.field_type(cls, field)
            if known is None:
                added[field] = t
            elif not same_type(known, t):
                raise ParseError(
                    ParseError.INCORRECT_TYPE,
                    f"schema mismatch for {cls}.{field}; expected {describe(known)} but got {describe(t)}",
                )
        is_new = not self.has_class(cls)
        if is_new:
            self.new_classes.add(cls)
        if added:
            self.new_fields.setdefault(cls, {}).update(added)
        return is_new, added
