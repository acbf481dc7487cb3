"""Class-level permissions: who may find, get, count, create, update, delete and add fields to
a class, which fields each caller may not see (protectedFields), and pointer permissions
(readUserFields / writeUserFields / an operation's pointerFields).

A CLP entry is `{"*": true}`, `{"<userId>": true}`, `{"role:<name>": true}`,
`{"requiresAuthentication": true}` or `{"pointerFields": ["owner"]}`. Messages are Parse
Server's sanitized ones ("Permission denied"), so a refusal tells nothing about the class.
(The module is `check`, `protection` and `effective`; `guard.py` applies them.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from parsnip.core.errors import ParseError
from parsnip.core.security.auth import Auth

OPERATIONS = ("find", "count", "get", "create", "update", "delete", "addField")
READS = frozenset({"find", "count", "get"})

DEFAULT_CLP: dict[str, Any] = {
    **{op: {"*": True} for op in OPERATIONS},
    "protectedFields": {"*": []},
}

# Parse Server's default `protectedFields` option: other users never see a user's email.
DEFAULT_PROTECTED: dict[str, dict[str, list[str]]] = {"_User": {"*": ["email"]}}

DENIED = "Permission denied"


def effective(clp: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored CLP with Parse's defaults for what it leaves out."""
    return {**DEFAULT_CLP, **(clp or {})}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a CLP check that did not refuse: allowed outright, or only for objects
    whose `owner_fields` point at the caller (pointer permissions)."""

    owner_fields: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return bool(self.owner_fields)


ALLOWED = Decision()


def check(clp: Mapping[str, Any] | None, auth: Auth, operation: str) -> Decision:
    """May `auth` perform `operation` on the class? Raises 119 (or 209/101 for a required
    login) when not; otherwise says whether pointer permissions restrict it to some objects."""
    if auth.master:
        return ALLOWED
    clp = effective(clp)
    perms = clp.get(operation) or {}
    groups = auth.acl_keys()
    if any(perms.get(g) is True for g in groups):
        return ALLOWED
    if perms.get("requiresAuthentication") is True:
        if auth.user_id is None:  # Parse answers 101 (404) for every operation here
            raise ParseError(ParseError.OBJECT_NOT_FOUND, DENIED)
        return ALLOWED
    owner_fields = _pointer_fields(clp, perms, operation)
    if owner_fields and operation != "create":
        return Decision(owner_fields)
    raise ParseError(ParseError.OPERATION_FORBIDDEN, DENIED)


def _pointer_fields(clp: Mapping[str, Any], perms: Mapping[str, Any], operation: str) -> tuple[str, ...]:
    fields: list[str] = []
    listed = perms.get("pointerFields")
    if isinstance(listed, list):
        fields += [f for f in listed if isinstance(f, str)]
    legacy = clp.get("readUserFields" if operation in READS else "writeUserFields")
    if isinstance(legacy, list) and operation != "addField":
        fields += [f for f in legacy if isinstance(f, str)]
    return tuple(dict.fromkeys(fields))


def points_at(value: Any, user_id: str | None) -> bool:
    """Whether a field's value is (or is an array holding) a pointer to the user."""
    if user_id is None:
        return False
    items = value if isinstance(value, list) else [value]
    return any(
        isinstance(v, Mapping) and v.get("__type") == "Pointer" and v.get("className") == "_User"
        and v.get("objectId") == user_id
        for v in items
    )


@dataclass(frozen=True, slots=True)
class Protection:
    """The fields hidden from one caller in one class.

    `always` are hidden from every object; `unless` lists (userField, fields) pairs where the
    pair's fields stay hidden only when the object's userField does not point at the caller
    (for _User, field None means "the object is the caller themself", who sees everything).
    A field is hidden when every entry that applies to the caller hides it (Parse's rule:
    the most permissive applicable entry wins).
    """

    always: frozenset[str] = frozenset()
    unless: tuple[tuple[str | None, frozenset[str]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.always

    def hidden_for(self, obj: Mapping[str, Any], object_id: str | None, user_id: str | None) -> frozenset[str]:
        """The fields hidden in one object (the in-memory form of the SQL in `guard.py`)."""
        hidden = self.always
        for field, visible in self.unless:
            applies = (object_id == user_id) if field is None else points_at(obj.get(field), user_id)
            if applies and user_id is not None:
                hidden = hidden & visible
        return hidden


def protection(clp: Mapping[str, Any] | None, class_name: str, auth: Auth) -> Protection:
    """Which fields of `class_name` this caller may not see."""
    if auth.master:
        return Protection()
    stored = (clp or {}).get("protectedFields")
    entries: dict[str, list[str]] = {}
    for source in (DEFAULT_PROTECTED.get(class_name, {}), stored if isinstance(stored, Mapping) else {}):
        for key, fields in source.items():
            if isinstance(fields, list):
                entries[key] = list(dict.fromkeys([*entries.get(key, []), *fields]))
    if not any(entries.values()):
        return Protection()
    groups = auth.groups()
    applicable = [frozenset(entries[g]) for g in groups if g in entries]
    always = frozenset.intersection(*applicable) if applicable else frozenset()
    unless: list[tuple[str | None, frozenset[str]]] = []
    if always and auth.user_id is not None:
        for key, fields in entries.items():
            if key.startswith("userField:"):
                unless.append((key.split(":", 1)[1], frozenset(fields)))
        if class_name == "_User":
            unless.append((None, frozenset()))
    return Protection(always, tuple(unless))
