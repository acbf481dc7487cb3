"""The `ParseObject`s a save trigger sees, made from the pipeline's requests
(`core/pipeline/requests.py`), and a before_save's changes written back to its `SaveRequest`.

Before a save, `req.object` is the object as it will be, with the client's operations as its
pending changes (so an `increment` merges with the client's Increment, as in Parse); what the
handler changed, through the object's methods or in place, becomes the request's operations
on those fields once it returns. After a save, it is the object as written. (This module is
ParseObject's friend: it sets and reads the object's bookkeeping directly.)
"""

from __future__ import annotations

from typing import Any, Mapping

from parsnip.core.cloud import codec
from parsnip.core.cloud.objects import Change, ParseObject
from parsnip.core.operations import parse_op
from parsnip.core.schema import check_field_name
from parsnip.core.values import iso

_CHANGES = frozenset({"Set", "Delete", "Increment", "Add", "AddUnique", "Remove"})


def before_save_object(save_req: Any) -> ParseObject:
    """The object a before_save handler may change (`write_back` stores its changes)."""
    data = _visible(save_req.object)
    if save_req.object_id:
        data["objectId"] = save_req.object_id
    obj = ParseObject.from_json(data, save_req.class_name)
    obj._has_data = save_req.original is not None
    obj._changes = {name: Change(op.kind, codec.decode(op.value)) for name, op in save_req.ops.items()
                    if op.kind in _CHANGES and not name.startswith("_")}
    return obj


def _visible(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields user code sees: not the server's own (`_hashed_password`, tokens, ...), which
    it can neither read nor change, as in Parse."""
    return {k: v for k, v in (fields or {}).items() if not k.startswith("_")}


def write_back(obj: ParseObject, save_req: Any) -> None:
    """The handler's changes become the save's operations on the fields it changed: an
    operation it added (an Increment, an Add) as that operation, any other change as a value."""
    for name in obj._fields.keys() | obj._synced.keys():
        if name.startswith("_"):  # the server's own fields are not user code's to write (105)
            check_field_name(name)
        change = obj._changes.get(name)
        asked = save_req.ops.get(name)
        if change is not None and change.kind not in ("Set", "Delete") and not _same_op(change, asked):
            save_req.apply(name, parse_op(change.to_json()))
        elif name not in obj._fields:
            if name in obj._synced:
                save_req.unset(name)
        else:
            value = codec.encode(obj._fields[name], pointers=True)
            if value != obj._synced.get(name):
                save_req.set(name, value)


def _same_op(change: Change, asked: Any) -> bool:
    return asked is not None and asked.kind == change.kind and asked.to_json() == parse_op(change.to_json()).to_json()


def written_object(class_name: str, object_id: str, fields: Mapping[str, Any] | None,
                   created_at: Any = None, updated_at: Any = None) -> ParseObject:
    """The object as a committed save wrote it (or as a delete found it)."""
    data: dict[str, Any] = {**_visible(fields), "objectId": object_id}
    if created_at is not None:
        data["createdAt"] = iso(created_at)
    if updated_at is not None:
        data["updatedAt"] = iso(updated_at)
    return ParseObject.from_json(data, class_name)


def original_object(class_name: str, object_id: str | None, fields: Mapping[str, Any] | None) -> ParseObject | None:
    """The stored object before the write (None on a create)."""
    if fields is None or object_id is None:
        return None
    return written_object(class_name, object_id, fields)
