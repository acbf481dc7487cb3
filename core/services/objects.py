"""Objects of any class: find, count, get, create, update, delete, as a given caller.

Reads come back as the JSON text PostgreSQL built (nothing decoded here); a save comes back as
the fields Parse answers for it. The system classes with rules of their own (users, sessions,
installations) have their own modules with the same five operations (`core/services/classes.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parsnip.core.commands import Create, Delete, Result, Update, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.reads import FindOptions
from parsnip.core.security.guard import check_class_access
from parsnip.core.security.roles import ROLE_CLASS, check_role_write
from parsnip.core.services.access import require_writable
from parsnip.core.services.base import Backend, Caller, checked
from parsnip.core.services.query_options import (
    access_options, check_query_options, find_options, read_options, redirect, valid_class,
)
from parsnip.core.values import iso

# Operators whose result Parse echoes in a save response.
_ECHOED_OPS = frozenset({"Increment", "Add", "AddUnique", "Remove"})


@dataclass(frozen=True, slots=True)
class Found:
    """A find's answer: each object's JSON text, and the total when a count was asked for."""

    results: list[str]
    count: int | None = None
    explain: bool = False  # `results` holds PostgreSQL's plan, as Parse Server on Postgres answers

    def text(self) -> str:
        """The answer as Parse writes it: `{"results": [...], "count": n}`."""
        if self.explain:
            return '{"results":' + self.results[0] + "}"
        raw = '{"results":[' + ",".join(self.results) + "]"
        if self.count is not None:
            raw += f',"count":{self.count}'
        return raw + "}"


@dataclass(frozen=True, slots=True)
class Saved:
    """A save's answer: the fields Parse returns (`body`, or `text` already JSON), the object's
    id, whether it was created (rather than updated, or logged in to), and whether Parse names
    the object's address in its answer (REST: a `Location` header)."""

    object_id: str
    body: dict[str, Any] | None = None
    text: str | None = None
    created: bool = False
    located: bool = False


# -- commands --------------------------------------------------------------------------------

def _body_for_write(class_name: str, body: Any) -> Any:
    """Parse's checks before a write: a valid class name (107), and an array body read as an object
    keyed "0", "1", ... (so it fails on its first key, 105 "Invalid field name: 0.")."""
    if not valid_class(class_name):
        raise ParseError(ParseError.INVALID_JSON, "schema class name does not revalidate")
    if isinstance(body, list):
        return {str(i): v for i, v in enumerate(body)}
    return body


def op_results(ops, result: Result) -> dict[str, Any]:
    """The fields a save response carries back: the results of Increment/Add/AddUnique/Remove,
    and the fields a before-save hook chose (present ones, as they were written)."""
    echoed = {name: result.fields.get(name) for name, op in ops.items() if op.kind in _ECHOED_OPS}
    for name in result.hooked:
        if name in result.fields:
            echoed[name] = result.fields[name]
    return echoed


def create_command(rt: Backend, class_name: str, body: Any) -> Create:
    """The Create a client's body asks for (names, types and operators checked)."""
    body = _body_for_write(class_name, body)
    if class_name == ROLE_CLASS and isinstance(body, dict):
        check_role_write(body, creating=True)
    ops, object_id = build_ops(class_name, body, allow_object_id=rt.config.allowCustomObjectId)
    return Create(class_name, ops, object_id)


def created_body(cmd: Create, result: Result) -> dict[str, Any]:
    return {**op_results(cmd.ops, result), "objectId": result.object_id, "createdAt": iso(result.created_at)}


def update_command(rt: Backend, class_name: str, object_id: str, body: Any) -> Update:
    """The Update a client's body asks for; the objectId may be repeated, not changed (105)."""
    body = _body_for_write(class_name, body)
    if class_name == ROLE_CLASS and isinstance(body, dict):
        check_role_write(body, creating=False)
    ops, new_id = build_ops(class_name, body, allow_object_id=True)
    if new_id is not None and new_id != object_id:
        raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
    return Update(class_name, object_id, ops)


def updated_body(cmd: Update, result: Result) -> dict[str, Any]:
    return {**op_results(cmd.ops, result), "updatedAt": iso(result.updated_at)}


# -- writes ----------------------------------------------------------------------------------

async def create(rt: Backend, caller: Caller, class_name: str, body: Any) -> Saved:
    require_writable(caller.auth)
    cmd = await checked(caller, create_command, rt, class_name, body)
    [result] = await rt.write([cmd], caller.context, caller.auth, cloud_context=caller.cloud_context)
    return Saved(result.object_id, created_body(cmd, result), created=True, located=True)


async def update(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> Saved:
    require_writable(caller.auth)
    check_class_access(caller.auth, class_name)
    cmd = await checked(caller, update_command, rt, class_name, object_id, body)
    [result] = await rt.write([cmd], caller.context, caller.auth, cloud_context=caller.cloud_context)
    return Saved(object_id, updated_body(cmd, result))


async def delete(rt: Backend, caller: Caller, class_name: str, object_id: str) -> None:
    require_writable(caller.auth)
    check_class_access(caller.auth, class_name)
    if not valid_class(class_name):  # Parse: an invalid class name has no objects
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found for delete.")
    await rt.write([Delete(class_name, object_id)], caller.context, caller.auth, cloud_context=caller.cloud_context)


# -- reads -----------------------------------------------------------------------------------

async def get(rt: Backend, caller: Caller, class_name: str, object_id: str, params: dict[str, Any]) -> str:
    """One object's JSON text, shaped by `keys`/`include`; 101 when missing or hidden alike."""
    text = None
    valid = valid_class(class_name)
    opts = FindOptions(**read_options(rt, params, class_name),
                       **(access_options(rt, caller.auth, class_name, "get") if valid else {}))
    if valid and await rt.has_class(class_name):
        text = await rt.get(class_name, object_id, opts, caller.auth, caller.context,
                            cloud_context=caller.cloud_context)
    if text is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    return text


async def find(rt: Backend, caller: Caller, class_name: str, params: dict[str, Any]) -> Found:
    """The objects a query's options (`where`, `order`, `limit`, ...) select, as the caller may see them."""
    check_query_options(params)
    redirected = redirect(rt, class_name, params.get("redirectClassNameForKey"))
    if redirected:
        class_name = redirected
    exists = valid_class(class_name) and await rt.has_class(class_name)
    opts = find_options(rt, params, class_name, caller.master,
                        await rt.btree_fields(class_name) if exists else frozenset(), caller.auth)
    if not exists:
        return Found([], 0 if opts.count else None)
    results, total = await rt.find(class_name, opts, caller.auth, caller.context,
                                   cloud_context=caller.cloud_context)
    if opts.explain:
        return Found(results, explain=True)
    if redirected:  # Parse names the class each result really belongs to
        results = [r[:-1] + f',"className":{json.dumps(redirected)}}}' for r in results]
    return Found(results, total)


async def count(rt: Backend, caller: Caller, class_name: str, where: Any = None) -> int:
    """How many objects match `where` for the caller (Parse's count: limit 0, count 1)."""
    params: dict[str, Any] = {"count": 1, "limit": 0}
    if where is not None:
        params["where"] = where
    found = await find(rt, caller, class_name, params)
    return found.count or 0
