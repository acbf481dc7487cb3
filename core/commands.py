"""Write commands: what the API asks the writer to do, already parsed and checked for shape.

`build_ops` turns a request body into field operations, refusing bad names and reserved
fields before anything reaches the writer. A `SchemaChange` is checked by the writer itself
(core/schema_plan.py), against the class as it stands in the transaction that changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from parsnip.core.errors import ParseError
from parsnip.core.events import CONFIG_CLASS, FILE_CLASS
from parsnip.core.history.moment import Moment
from parsnip.core.operations import Op, parse_op
from parsnip.core.schema import MAX_FIELDS, check_class_name, check_field_name, describe
from parsnip.core.values import type_of

# Fields the server owns. Parse ignores createdAt/updatedAt in a body and refuses objectId
# unless custom ids are allowed.
_SERVER_FIELDS = frozenset({"createdAt", "updatedAt"})


@dataclass(frozen=True, slots=True)
class Create:
    class_name: str
    ops: Mapping[str, Op]
    object_id: str | None = None
    # The server chose `object_id` (a user created with its session in one unit), so it is
    # not a client's custom id, which `allowCustomObjectId` governs.
    server_chosen_id: bool = False
    # A signup's plain password, for the `_User` rules (passwordPolicy) that hash it into
    # `_hashed_password` before the write (core/accounts/user_hooks.py); the writer refuses
    # a command that still carries one, so it never reaches the log.
    password: str | None = field(default=None, repr=False)
    by_hook: tuple[str, ...] = ()  # the fields whose operation a before-save hook chose


@dataclass(frozen=True, slots=True)
class Update:
    class_name: str
    object_id: str
    ops: Mapping[str, Op]
    password: str | None = field(default=None, repr=False)  # a new plain password: as on Create
    by_hook: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    class_name: str
    object_id: str


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a part of a SchemaChange the request did not give

CREATE_CLASS, UPDATE_CLASS, DROP_CLASS, PURGE_CLASS = "create", "update", "drop", "purge"


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """A schema API request on one class, its parts as the client sent them (JSON values)."""

    class_name: str
    action: str  # CREATE_CLASS, UPDATE_CLASS, DROP_CLASS or PURGE_CLASS
    fields: Any = None
    clp: Any = UNSET
    indexes: Any = UNSET


@dataclass(frozen=True, slots=True)
class Restore:
    """Put one object back as it was at `moment` or as its `version` (exactly one is given);
    the writer plans the event against the object as locked (core/restore.py). Master only."""

    class_name: str
    object_id: str
    moment: Moment | None = None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class RestoreClass:
    """Put every object of a class back as it was at `moment`, in one unit. Master only."""

    class_name: str
    moment: Moment


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """PUT /config, read (core/global_config.py: read_change): an operation per parameter named,
    and the master-key-only flag sent for each (as sent). Master only."""

    params: dict[str, Op]
    master_key_only: dict[str, Any]
    class_name: str = CONFIG_CLASS


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file uploaded (`action` "create", its bytes already in the adapter) or deleted; the
    writer numbers its version and emits the `file` event (core/events.py: FILE)."""

    name: str
    action: str  # "create" | "delete"
    size: int = 0
    content_type: str | None = None
    digest: str = ""
    metadata: Any = None
    tags: Any = None
    class_name: str = FILE_CLASS


Command = Union[Create, Update, Delete, SchemaChange, Restore, RestoreClass, ConfigChange, FileChange]


@dataclass(slots=True)
class Result:
    """What one successful command produced: the object's state after it, and its timestamps."""

    class_name: str
    object_id: str
    created_at: Any = None
    updated_at: Any = None
    fields: dict[str, Any] = field(default_factory=dict)
    changed: tuple[str, ...] = ()
    hooked: tuple[str, ...] = ()  # fields a before-save hook chose: the save response carries them
    position: int | None = None  # once committed, the log position of its unit's last event (None: wrote none)


def build_ops(class_name: str, body: Any, *, allow_object_id: bool = False) -> tuple[dict[str, Op], str | None]:
    """Read a create/update body into {field: Op}; returns (ops, client-chosen objectId)."""
    check_class_name(class_name)
    if not isinstance(body, dict):
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    if len(body) > MAX_FIELDS:  # checked before any field is read: no class could hold them
        raise ParseError(ParseError.INVALID_JSON, f"an object holds at most {MAX_FIELDS} fields")
    ops: dict[str, Op] = {}
    object_id = None
    for key, value in body.items():
        if key in _SERVER_FIELDS:
            # Parse ignores a Date here (the server sets it) but refuses any other type.
            if not (isinstance(value, dict) and value.get("__type") == "Date"):
                got = describe(type_of(value)) if value is not None else "null"
                raise ParseError(
                    ParseError.INCORRECT_TYPE,
                    f"schema mismatch for {class_name}.{key}; expected Date but got {got}",
                )
            continue
        if key == "objectId":
            if not allow_object_id:
                raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
            if not isinstance(value, str) or not value or "\x00" in value:
                raise ParseError(ParseError.INVALID_KEY_NAME, "objectId must be a string")
            object_id = value
            continue
        if key == "ACL":
            ops[key] = acl_op(value)
            continue
        check_field_name(key)
        ops[key] = parse_op(value)
    return ops, object_id


def acl_op(value: Any) -> Op:
    """An ACL field of a body: its Set (checked: 123 when malformed) or Delete."""
    if isinstance(value, dict) and value.get("__op") == "Delete":
        return Op("Delete")
    if not isinstance(value, dict):
        raise ParseError(ParseError.INVALID_ACL, "Invalid ACL.")
    for who, perms in value.items():
        if not isinstance(who, str) or "\x00" in who or not isinstance(perms, dict):
            raise ParseError(ParseError.INVALID_ACL, "Invalid ACL.")
        for perm, allowed in perms.items():
            if perm not in ("read", "write") or not isinstance(allowed, bool):
                raise ParseError(ParseError.INVALID_ACL, "Invalid ACL.")
    return Op("Set", value)
