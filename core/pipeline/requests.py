"""What a hook is given: the request it runs for, and (before a save) the object as it will be.

A before-save hook changes the object through `SaveRequest` (assigning into `object`, or with
`set`/`unset`/`apply`); `final_ops` turns those changes into operations that replace the
request's own on the fields the hook changed, so the rest keep their operators (an Increment
stays an Increment, applied under the row lock).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from parsnip.core.commands import acl_op
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op, apply as apply_op, canonical, parse_op
from parsnip.core.schema import check_field_name
from parsnip.core.security.auth import Auth


class SaveRequest:
    """A create or update about to be written. `object` is the stored object (`original`) with
    the request's operations applied; `original` is None on a create (and, for built-in hooks
    only, when no hook asked for the stored object)."""

    def __init__(self, class_name: str, object_id: str | None, original: dict | None, ops: Mapping[str, Op],
                 auth: Auth, context: Context, *, is_create: bool, password: str | None = None,
                 cloud_context: dict | None = None) -> None:
        self.class_name = class_name
        self.object_id = object_id
        self.original = original
        self.is_create = is_create
        self.auth = auth
        self.context = context
        self.password = password  # a signup's or update's plain password (never written)
        self.cloud_context = cloud_context  # what the client sent Cloud Code (None: nothing)
        self.ops: Mapping[str, Op] = MappingProxyType(dict(ops))  # what the request asked
        self.object: dict[str, Any] = _as_it_will_be(original, ops, is_create)
        self.notes: dict[str, Any] = {}  # handed on to the after-save hooks of this write
        self._seen = copy.deepcopy(self.object)
        self._explicit: dict[str, Op] = {}

    def get(self, name: str, default: Any = None) -> Any:
        return self.object.get(name, default)

    def set(self, name: str, value: Any) -> None:
        """The field becomes `value` (a Parse JSON value, checked as a client's would be)."""
        op = _value_op(name, value)
        if op.kind != "Set":
            raise ParseError(ParseError.INVALID_JSON, f"{name}: use apply() for an operator")
        self._explicit[name] = op
        self.object[name] = op.value
        self._seen[name] = copy.deepcopy(op.value)

    def unset(self, name: str) -> None:
        self._explicit[name] = Op("Delete")
        self.object.pop(name, None)
        self._seen.pop(name, None)

    def apply(self, name: str, op: Op) -> None:
        """The field's operation becomes `op` (it replaces the request's own on that field)."""
        self._explicit[name] = op
        base = self.original or {}
        present, value = apply_op(op, base.get(name), name in base)
        if present:
            self.object[name] = value
            self._seen[name] = copy.deepcopy(value)
        else:
            self.object.pop(name, None)
            self._seen.pop(name, None)

    def final_ops(self) -> tuple[dict[str, Op], tuple[str, ...]]:
        """The operations to write, and the fields whose operation the hooks chose."""
        ops = dict(self.ops)
        changed = dict(self._explicit)
        for name in self.object.keys() | self._seen.keys():
            if name in changed:
                continue
            if name not in self.object:
                changed[name] = Op("Delete")
            elif name not in self._seen or _differs(self.object[name], self._seen[name]):
                changed[name] = _value_op(name, self.object[name])
        ops.update(changed)
        return ops, tuple(sorted(changed))


@dataclass
class DeleteRequest:
    """A delete about to be written; `original` is the stored object (None for built-ins only)."""

    class_name: str
    object_id: str
    original: dict | None
    auth: Auth
    context: Context
    notes: dict[str, Any] = field(default_factory=dict)
    cloud_context: dict | None = None


@dataclass
class AfterWriteRequest:
    """A committed save or delete. `object` is the object as written (as it was, for a delete);
    `ops` the operations written; `notes` what the before hooks left; the object's dates as
    the write left them."""

    class_name: str
    object_id: str
    object: dict | None
    original: dict | None
    ops: Mapping[str, Op]
    auth: Auth
    context: Context
    is_create: bool = False
    notes: dict[str, Any] = field(default_factory=dict)
    cloud_context: dict | None = None
    created_at: Any = None
    updated_at: Any = None


@dataclass
class FindRequest:
    """A find (or a get, `is_get`) about to run. `query` is the planned query (the reader's
    `FindOptions`: where, order, limit, skip, keys, include, ...), which a before-find hook may
    replace; `objects` holds the results for the after-find hooks, which may change them. A
    before-find hook that answers the find itself sets `answered` (the query is then not run)."""

    class_name: str
    query: Any
    auth: Auth
    context: Context | None = None
    is_get: bool = False
    objects: list[dict] = field(default_factory=list)
    cloud_context: dict | None = None
    answered: list[dict] | None = None


def _as_it_will_be(original: dict | None, ops: Mapping[str, Op], is_create: bool) -> dict[str, Any]:
    obj = dict(original or {})
    for name, op in ops.items():
        present, value = apply_op(op, obj.get(name), name in obj)
        if present and not (is_create and value is None):  # no null is stored on create
            obj[name] = value
        else:
            obj.pop(name, None)
    return obj


def _value_op(name: str, value: Any) -> Op:
    """The operation a hook's new value of `name` means, checked as a client's body would be;
    fields starting with `_` are the server's own (written only by server code)."""
    if name == "ACL":
        return acl_op(value)
    if not name.startswith("_"):
        check_field_name(name)
    return parse_op(value)


def _differs(a: Any, b: Any) -> bool:
    """JSON inequality as the database sees it (1 == 1.0, true != 1); a value that is not
    JSON counts as changed, and is refused when it is turned into an operation."""
    try:
        return canonical(a) != canonical(b)
    except ParseError:
        return True
