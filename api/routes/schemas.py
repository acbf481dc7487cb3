"""/schemas[/{className}] and /purge/{className}: the schema API, for the master key only.

Reads come from the projected schema (so a change made through another node is seen at once);
every change is a `SchemaChange` for the writer, which checks it against the class as stored.
"""

from __future__ import annotations

from typing import Any

from parsnip.api.routes import Reply
from parsnip.core import js
from parsnip.core.commands import CREATE_CLASS, DROP_CLASS, PURGE_CLASS, UNSET, UPDATE_CLASS, SchemaChange
from parsnip.core.errors import ParseError
from parsnip.core.schema import BUILT_IN_CLASSES, VOLATILE_CLASSES, check_class_name
from parsnip.core.schema_plan import NEEDS_CLASS_NAME
from parsnip.core.schema_view import class_view, created_view
from parsnip.core.services.access import require_master, require_writable


def _body(req) -> dict[str, Any]:
    return req.body if isinstance(req.body, dict) else {}


def _mismatch(body_name: Any, path_name: str) -> ParseError:
    return ParseError(ParseError.INVALID_CLASS_NAME,
                      f"Class name mismatch between {js.text(body_name)} and {path_name}.")


async def list_classes(rt, req) -> Reply:
    require_master(req.auth)
    stored = await rt.read(rt.reads.classes)
    # The built-in classes first, as a fresh Parse Server lists them, then the others by name;
    # the classes Parse keeps for itself (`_Hooks`, `_JobStatus`, ...) are readable, never listed.
    listed = (n for n in stored if n not in BUILT_IN_CLASSES and n not in VOLATILE_CLASSES)
    names = [*BUILT_IN_CLASSES, *sorted(listed)]
    return Reply({"results": [class_view(n, stored.get(n)) for n in names]})


def _may_exist(class_name: str) -> bool:
    try:
        check_class_name(class_name)
        return True
    except ParseError:
        return False


async def get_class(rt, req, class_name: str) -> Reply:
    require_master(req.auth)
    stored = (await rt.read(rt.reads.classes, class_name)).get(class_name) if _may_exist(class_name) else None
    if stored is None and class_name not in BUILT_IN_CLASSES and class_name not in VOLATILE_CLASSES:
        raise ParseError(ParseError.INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    return Reply(class_view(class_name, stored))


async def create_class(rt, req, class_name: str | None = None) -> Reply:
    require_master(req.auth)
    require_writable(req.auth, "create a schema")
    body = _body(req)
    body_name = body.get("className")
    if class_name and js.truthy(body_name) and body_name != class_name:
        raise _mismatch(body_name, class_name)
    name = class_name or body_name
    if not js.truthy(name):
        raise ParseError(NEEDS_CLASS_NAME, f"POST {req.path} needs a class name.")
    name = name if isinstance(name, str) else js.text(name)
    change = SchemaChange(name, CREATE_CLASS, body.get("fields"), body.get("classLevelPermissions", UNSET),
                          body.get("indexes", UNSET))
    await rt.write([change], req.context)
    rt.indexes_changed(name)
    return Reply(created_view(name, change.fields, change.clp, change.indexes))


async def update_class(rt, req, class_name: str) -> Reply:
    require_master(req.auth)
    require_writable(req.auth, "update a schema")
    body = _body(req)
    if js.truthy(body.get("className")) and body["className"] != class_name:
        raise _mismatch(body["className"], class_name)
    change = SchemaChange(class_name, UPDATE_CLASS, body.get("fields"), body.get("classLevelPermissions", UNSET),
                          body.get("indexes", UNSET))
    await rt.write([change], req.context)
    rt.indexes_changed(class_name)
    stored = (await rt.read(rt.reads.classes, class_name)).get(class_name)
    return Reply(class_view(class_name, stored))


async def drop_class(rt, req, class_name: str) -> Reply:
    """Only an empty class can go (255 otherwise); a class that does not exist is fine."""
    require_master(req.auth)
    require_writable(req.auth, "delete a schema")
    check_class_name(class_name)
    await rt.write([SchemaChange(class_name, DROP_CLASS)], req.context)
    rt.indexes_changed(class_name)
    return Reply({})


async def purge(rt, req, class_name: str) -> Reply:
    """Delete every object of the class; the class and its schema stay."""
    require_master(req.auth)
    require_writable(req.auth, "purge a schema")
    try:
        check_class_name(class_name)
    except ParseError:
        return Reply({})  # Parse Server: a class that cannot exist has nothing to purge
    await rt.write([SchemaChange(class_name, PURGE_CLASS)], req.context)
    return Reply({})
