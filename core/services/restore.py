"""Restore an object or a whole class as it was (POST /history/{className}[/{objectId}]/restore).

Master key only, as /history/verify (403 "Permission denied" otherwise; the read-only master
key may not write). The writer plans and writes the restore in one transaction against the data
as it stands then (core/restore.py); no Cloud Code trigger runs.
"""

from __future__ import annotations

from typing import Any

from parsnip.core.commands import Restore, RestoreClass
from parsnip.core.errors import ParseError
from parsnip.core.history.moment import Moment, parse_moment
from parsnip.core.reads import FindOptions
from parsnip.core.schema import check_class_name
from parsnip.core.services.access import require_master, require_writable
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.query_options import access_options, read_options

_OBJECT_KEYS = ("version", "position", "asOf")
_CLASS_KEYS = ("asOf",)
_MAX = {"version": 2**31 - 1, "position": 2**63 - 1}  # the history table's integer columns


async def restore_object(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> str:
    """Put the object back as it was at a version, a position or a moment (`asOf`), undeleting it
    if need be; the object as a master-key GET shows it. 101 when it did not exist then."""
    key, value = _one_key(caller, class_name, body, _OBJECT_KEYS)
    if key == "version":
        command = Restore(class_name, object_id, version=value)
    else:
        command = Restore(class_name, object_id, moment=Moment(position=value) if key == "position" else value)
    await rt.write([command], caller.context, caller.auth)
    opts = FindOptions(**read_options(rt, {}, class_name), **access_options(rt, caller.auth, class_name, "get"))
    text = await rt.read(rt.reads.get, class_name, object_id, opts)
    if text is None:  # deleted again in the instant since
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    return text


async def restore_class(rt: Backend, caller: Caller, class_name: str, body: Any) -> dict[str, Any]:
    """Put the whole class back as it was at `asOf`, in one transaction: `{"restored", "deleted",
    "reverted", "position"}` (objects undeleted, deleted as made since, changed back; the last
    position written, null when nothing differed)."""
    _, moment = _one_key(caller, class_name, body, _CLASS_KEYS)
    [result] = await rt.write([RestoreClass(class_name, moment)], caller.context, caller.auth)
    return {**result.fields, "position": result.position}


def _one_key(caller: Caller, class_name: str, body: Any, allowed: tuple[str, ...]) -> tuple[str, Any]:
    """The caller checked, then the body's one key and its value (a Moment for asOf)."""
    require_master(caller.auth)
    require_writable(caller.auth, "restore objects")
    check_class_name(class_name)
    if not isinstance(body, dict):
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    given = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
    for key in body:
        if key not in allowed:
            raise ParseError(ParseError.INVALID_QUERY, f"Invalid key for restore: {str(key)[:100]} (give {given})")
    if len(body) != 1:
        raise ParseError(ParseError.INVALID_QUERY, f"Give exactly one of {given}.")
    [(key, value)] = body.items()
    if key == "asOf":
        moment = parse_moment(value)
        if moment is None:
            raise ParseError(ParseError.INVALID_QUERY, "asOf must be a date (ISO 8601) or a log position")
        return key, moment
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX[key]:
        raise ParseError(ParseError.INVALID_QUERY, f"{key} must be an integer of at least 1")
    return key, value
