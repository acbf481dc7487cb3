"""classLevelPermissions as the schema API takes them: Parse Server's checks (107 with its own
messages), and the form they are stored in.

A class with stored permissions has exactly those: an operation it leaves out is allowed to
nobody but the master key, as in Parse Server, so they are stored with every operation present
(`{}` where none was given). A class without any shows Parse's defaults (`DEFAULT_VIEW`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from parsnip.core import js
from parsnip.core.errors import ParseError
from parsnip.core.schema import DEFAULT_FIELDS

OPERATIONS = ("find", "get", "count", "create", "update", "delete", "addField", "protectedFields")
_POINTER_LISTS = ("readUserFields", "writeUserFields")
VALID_KEYS = frozenset({*OPERATIONS, *_POINTER_LISTS, "ACL"})

EMPTY: dict[str, Any] = {op: {} for op in OPERATIONS}
# What Parse Server 9 shows for a class whose permissions were never set.
DEFAULT_VIEW: dict[str, Any] = {
    "ACL": {"*": {"read": True, "write": True}},
    **{op: {"*": True} for op in OPERATIONS if op != "protectedFields"},
    "protectedFields": {"*": []},
}

_PERMISSION_KEY = re.compile(r"^(pointerFields|\*|requiresAuthentication|role:.*)$", re.S)
_PROTECTED_KEY = re.compile(r"^(userField:.*|\*|authenticated|role:.*)$", re.S)
USER_ID = re.compile(r"^[a-zA-Z0-9]+$")
CUSTOM_USER_ID = re.compile(r"^.+$", re.S)


def stored_form(perms: Any) -> dict | None:
    """What setting `perms` stores: None (the defaults) for a falsy value, as Parse reads it;
    otherwise every operation, empty where not given."""
    if not js.truthy(perms):
        return None
    return {**EMPTY, **(perms if isinstance(perms, dict) else {})}


def _fail(message: str) -> None:
    raise ParseError(ParseError.INVALID_JSON, message)


def validate(perms: Any, fields: Mapping[str, dict], user_id: re.Pattern = USER_ID) -> None:
    """107 unless `perms` is a valid classLevelPermissions for a class with `fields`."""
    if not js.truthy(perms):
        return
    for op in js.keys(perms):
        if op not in VALID_KEYS:
            _fail(f"{op} is not a valid operation for class level permissions")
        value = js.get(perms, op)
        if op in _POINTER_LISTS:
            if not isinstance(value, list):
                _fail(f"'{js.text(value)}' is not a valid value for class level permissions {op} - must be an array")
            for name in value:
                _pointer_field(name, fields, op)
            continue
        if not js.is_object(value):
            _fail(f"'{js.text(value)}' is not a valid value for class level permissions {op} - must be an object")
        if op == "protectedFields":
            _protected(value, fields, user_id)
            continue
        for entity in js.keys(value):
            _key(entity, _PERMISSION_KEY, user_id)
            permit = js.get(value, entity)
            if entity == "pointerFields":
                if not isinstance(permit, list):
                    _fail(f"'{js.text(permit)}' is not a valid value for {op}[pointerFields] - expected an array.")
                for name in permit:
                    # Parse Server names the operation's object here, hence the odd text.
                    _pointer_field(name, fields, "[object Object]")
            elif op == "ACL":
                _acl_entry(permit)
            elif permit is not True:
                _fail(f"'{js.text(permit)}' is not a valid value for class level permissions acl {op}:{entity}")


def _key(entity: str, allowed: re.Pattern, user_id: re.Pattern) -> None:
    if not (allowed.match(entity) or user_id.match(entity)):
        _fail(f"'{entity}' is not a valid key for class level permissions")


def _acl_entry(entry: Any) -> None:
    """An "ACL" entry: {"read": bool, "write": bool}, either or neither."""
    if not isinstance(entry, dict):
        _fail(f"'{js.text(entry)}' is not a valid value for class level permissions acl")
    for k in js.keys(entry):
        if k not in ("read", "write"):
            _fail(f"'{k}' is not a valid key for class level permissions acl")
        if not isinstance(entry[k], bool):
            _fail(f"'{js.text(entry[k])}' is not a valid value for class level permissions acl")


def _protected(value: Any, fields: Mapping[str, dict], user_id: re.Pattern) -> None:
    for entity in js.keys(value):
        _key(entity, _PROTECTED_KEY, user_id)
        names = js.get(value, entity)
        if not isinstance(names, list):
            _fail(f"'{js.text(names)}' is not a valid value for protectedFields[{entity}] - expected an array.")
        for name in names:
            if isinstance(name, str) and name in DEFAULT_FIELDS:
                _fail(f"Default field '{name}' can not be protected")
            if not (isinstance(name, str) and name in fields):
                _fail(f"Field '{js.text(name)}' in protectedFields:{entity} does not exist")


def _pointer_field(name: Any, fields: Mapping[str, dict], where: str) -> None:
    """Pointer permissions name a Pointer<_User> or an Array field."""
    t = fields.get(name) if isinstance(name, str) else None
    if not (t and ((t.get("type") == "Pointer" and t.get("targetClass") == "_User") or t.get("type") == "Array")):
        _fail(f"'{js.text(name)}' is not a valid column for class level pointer permissions {where}")
