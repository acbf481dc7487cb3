"""Class and field names, and the schema: inferred on first write, enforced after.

The schema is itself event-sourced: a write that introduces a class or a field carries a schema
event in the same transaction, and so does every change made through the schema API, so
replaying the log rebuilds the schema too. `ClassSchema` is one class as stored and
`evolve` the one rule for how a schema event's payload changes it. `SchemaCache` is this node's
view, updated from committed schema events; the writer checks types against it plus the schema
changes of the batch it is building (`SchemaOverlay`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from parsnip.core.errors import ParseError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\Z")  # \Z: `$` would let a trailing newline in

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

_S, _N, _D, _O, _A = ({"type": t} for t in ("String", "Number", "Date", "Object", "Array"))

# The fields each system class has without being told (Parse's default columns, in Parse's
# order). They are implicit: never stored, shown by the schema API, and checked on every write.
SYSTEM_FIELDS: dict[str, dict[str, dict]] = {
    "_User": {"username": _S, "password": _S, "email": _S, "emailVerified": {"type": "Boolean"},
              "authData": _O},
    "_Installation": {"installationId": _S, "deviceToken": _S, "channels": _A, "deviceType": _S,
                      "pushType": _S, "GCMSenderId": _S, "timeZone": _S, "localeIdentifier": _S,
                      "badge": _N, "appVersion": _S, "appName": _S, "appIdentifier": _S,
                      "parseVersion": _S},
    "_Role": {"name": _S, "users": {"type": "Relation", "targetClass": "_User"},
              "roles": {"type": "Relation", "targetClass": "_Role"}},
    "_Session": {"user": {"type": "Pointer", "targetClass": "_User"}, "installationId": _S,
                 "sessionToken": _S, "expiresAt": _D, "createdWith": _O},
    "_Product": {"productIdentifier": _S, "download": {"type": "File"}, "downloadName": _S,
                 "icon": {"type": "File"}, "order": _N, "title": _S, "subtitle": _S},
    "_PushStatus": {"pushTime": _S, "source": _S, "query": _S, "payload": _S, "title": _S,
                    "expiry": _N, "expiration_interval": _N, "status": _S, "numSent": _N,
                    "numFailed": _N, "pushHash": _S, "errorMessage": _O, "sentPerType": _O,
                    "failedPerType": _O, "sentPerUTCOffset": _O, "failedPerUTCOffset": _O,
                    "count": _N},
    "_JobStatus": {"jobName": _S, "source": _S, "status": _S, "message": _S, "params": _O,
                   "finishedAt": _D},
    "_JobSchedule": {"jobName": _S, "description": _S, "params": _S, "startAfter": _S,
                     "daysOfWeek": _A, "timeOfDay": _S, "lastRun": _N, "repeatMinutes": _N},
    "_Hooks": {"functionName": _S, "className": _S, "triggerName": _S, "url": _S},
    "_GlobalConfig": {"objectId": _S, "params": _O, "masterKeyOnly": _O},
    "_GraphQLConfig": {"objectId": _S, "config": _O},
    "_Audience": {"objectId": _S, "name": _S, "query": _S, "lastUsed": _D, "timesUsed": _N},
    "_Idempotency": {"reqId": _S, "expire": _D},
}

# Classes Parse Server keeps in memory only: the schema API shows them, nothing stores them.
VOLATILE_CLASSES = frozenset({"_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig",
                              "_GraphQLConfig", "_JobSchedule", "_Audience", "_Idempotency"})
# Classes that exist from the start (Parse Server creates them when it starts), before any
# write has made their tables.
BUILT_IN_CLASSES = ("_User", "_Role")


# Fields a class may hold. Parse Server on PostgreSQL keeps one column per field and fails
# near 1,577 (PostgreSQL's 1,600 columns, less its own); every read walks the class's fields,
# so a class with 100,000 of them would slow every request that touches it.
MAX_FIELDS = 1500


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


def class_fields(name: str) -> dict[str, dict]:
    """Every field a class has without being told: the object's own, then the system class's."""
    return {**DEFAULT_FIELDS, **SYSTEM_FIELDS.get(name, {})}


def same_type(a: Mapping, b: Mapping) -> bool:
    return a.get("type") == b.get("type") and a.get("targetClass") == b.get("targetClass")


def describe(t: Mapping) -> str:
    if t.get("targetClass"):
        return f"{t['type']}<{t['targetClass']}>"
    return str(t["type"])


@dataclass(frozen=True, slots=True)
class ClassSchema:
    """One class as stored: its added fields (not the implicit ones) and its options, e.g.
    {"classLevelPermissions": ..., "indexes": {...}}. Never changed in place: see `evolve`."""

    fields: Mapping[str, dict] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def clp(self) -> dict | None:
        return self.options.get("classLevelPermissions")

    @property
    def indexes(self) -> dict[str, dict]:
        return self.options.get("indexes") or {}


def evolve(current: ClassSchema | None, payload: Mapping) -> ClassSchema | None:
    """The class after a schema event (see `core/events.py: SCHEMA`); None when it is dropped."""
    if payload.get("drop_class"):
        return None
    fields = dict(current.fields) if current else {}
    options = dict(current.options) if current else {}
    for name in payload.get("deleted_fields", ()):
        fields.pop(name, None)
    fields.update(payload.get("fields", {}))
    if "clp" in payload:
        if payload["clp"] is None:
            options.pop("classLevelPermissions", None)
        else:
            options["classLevelPermissions"] = payload["clp"]
    if "indexes" in payload or "dropped_indexes" in payload:
        indexes = {**options.get("indexes", {}), **payload.get("indexes", {})}
        for name in payload.get("dropped_indexes", ()):
            indexes.pop(name, None)
        options["indexes"] = indexes
    return ClassSchema(fields, options)


def schema_from_rows(rows: Iterable[tuple[str, str | None, dict | None]]) -> dict[str, ClassSchema]:
    """Classes from stored (class, field, type) rows; a row with field None declares the class
    and carries its options."""
    fields: dict[str, dict[str, dict]] = {}
    options: dict[str, dict] = {}
    for cls, name, t in rows:
        fields.setdefault(cls, {})
        if name is not None:
            fields[cls][name] = t
        elif t:
            options[cls] = dict(t)
    return {cls: ClassSchema(f, options.get(cls, {})) for cls, f in fields.items()}


class SchemaCache:
    """This node's schema: class name -> ClassSchema. Only committed schema events change it.

    Both this node's writer (after its commits) and its log follower apply events, possibly the
    same ones and from different threads: each class remembers the last position applied, so an
    event applied late never undoes a newer one.
    """

    def __init__(self) -> None:
        self._classes: dict[str, ClassSchema] = {}
        self._applied: dict[str, int] = {}  # class -> position of the last event applied
        self._lock = threading.Lock()

    def load(self, rows: Iterable[tuple[str, str | None, dict | None]]) -> None:
        """Fill from stored (class, field, type) rows; a row with field None declares the class
        and carries its options."""
        with self._lock:
            self._classes.update(schema_from_rows(rows))

    def apply_event(self, class_name: str, payload: Mapping, position: int | None = None) -> None:
        """Apply a committed schema event's payload (see `core/events.py: SCHEMA`)."""
        with self._lock:
            if position is not None:
                if position <= self._applied.get(class_name, 0):
                    return
                self._applied[class_name] = position
            after = evolve(self._classes.get(class_name), payload)
            if after is None:
                self._classes.pop(class_name, None)
            else:
                self._classes[class_name] = after

    def forget(self, class_name: str) -> None:
        """Drop a class that turned out to be gone (dropped by another node, event not yet seen)."""
        with self._lock:
            self._classes.pop(class_name, None)

    def clp(self, name: str) -> dict | None:
        """The class's stored classLevelPermissions; None when none were set (the defaults apply)."""
        c = self._classes.get(name)
        return c.clp if c is not None else None

    def has_class(self, name: str) -> bool:
        return name in self._classes

    def fields(self, name: str) -> Mapping[str, dict]:
        """The class's fields but objectId, createdAt, updatedAt and ACL: a system class's
        implicit ones (e.g. _Role.users, which redirectClassNameForKey needs) and the stored."""
        c = self._classes.get(name)
        stored = c.fields if c is not None else {}
        implicit = SYSTEM_FIELDS.get(name)
        return {**implicit, **stored} if implicit else stored

    def snapshot(self, name: str) -> ClassSchema | None:
        return self._classes.get(name)

    def class_names(self) -> list[str]:
        return sorted(self._classes)


class SchemaOverlay:
    """The schema changes of the writes in one batch, checked against the cache and each other."""

    def __init__(self, cache: SchemaCache) -> None:
        self.cache = cache
        self.changed: dict[str, ClassSchema | None] = {}  # classes this batch changed (None: dropped)

    def view(self, name: str) -> ClassSchema | None:
        return self.changed[name] if name in self.changed else self.cache.snapshot(name)

    def has_class(self, name: str) -> bool:
        if name in self.changed:
            return self.changed[name] is not None
        return self.cache.has_class(name)

    def field_type(self, cls: str, field: str) -> dict | None:
        """The field's type: stored, or implied by the class (a system class's default field)."""
        c = self.view(cls)
        t = c.fields.get(field) if c is not None else None
        return t or SYSTEM_FIELDS.get(cls, {}).get(field)

    def child(self) -> "SchemaOverlay":
        """An overlay for one unit of work: the writer keeps it in place of this one when the unit
        succeeds, and drops it when the unit fails."""
        c = SchemaOverlay(self.cache)
        c.changed = dict(self.changed)
        return c

    def apply(self, cls: str, payload: Mapping) -> None:
        """Take in a schema event this batch emits."""
        self.changed[cls] = evolve(self.view(cls), payload)

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
        if added:
            current = self.view(cls)
            if len(added) + (len(current.fields) if current is not None else 0) > MAX_FIELDS:
                raise ParseError(ParseError.INVALID_JSON,
                                 f"Could not add field {next(iter(added))}: a class holds at most {MAX_FIELDS} fields")
        if is_new or added:
            self.apply(cls, {"fields": added})
        return is_new, added
