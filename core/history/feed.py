"""A log event as a change feed entry (GET /changes): an object's version as GET /history shows
it to the master key, with className and objectId first; a class-level event (schema, purge,
erase, a Parse.Config change, a file) as an entry of its own with a summary of what changed and no object.

The object is the event's own state after the change (`core/events.py: object_states`), so a
page of the feed is one read of the log: no projection is joined. It is shown as a live read
shows it to the master key: the server's internal fields left out, File URLs made.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from parsnip.core.events import (
    CONFIG, CREATE, DELETE, ERASE, FILE, PURGE, RESTORE, SCHEMA, UPDATE, Event, object_states, restored,
)
from parsnip.core.history.entries import Version, encode
from parsnip.core.layout import file_url

OBJECT_KINDS = (CREATE, UPDATE, DELETE)

# Which fields of an object of a class the master key does not see (the server's own).
HiddenOf = Callable[[str, str | None, Mapping[str, Any]], frozenset[str]]


def entry(ev: Event, hidden_of: HiddenOf, files_base: str) -> str:
    """The event's entry as JSON text (the master's view)."""
    object_id = ev.object_id if ev.kind in (*OBJECT_KINDS, ERASE, FILE) else None
    extra = {"className": ev.class_name, "objectId": object_id}
    if ev.erased_by is not None:  # its data is gone from the log: who and when stay
        return encode(Version(ev.position, ev.version, ev.kind, ev.at, ev.context, {}, None), True, extra)
    if ev.kind not in OBJECT_KINDS:
        summary = {"ops": _summary(ev)}
        return encode(Version(ev.position, ev.version, ev.kind, ev.at, ev.context, summary, None), True, extra,
                      op=ev.kind)
    _, after = object_states(ev)
    hidden = hidden_of(ev.class_name, ev.object_id, after or {})
    text = None if after is None else _object_json(after, hidden, files_base)
    kind = RESTORE if restored(ev) else ev.kind
    return encode(Version(ev.position, ev.version, kind, ev.at, ev.context, ev.payload, text, hidden),
                  True, extra)


def _object_json(obj: Mapping[str, Any], hidden: frozenset[str], files_base: str) -> str:
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if name in hidden:
            continue
        if isinstance(value, dict) and value.get("__type") == "File" and "name" in value:
            value = {**value, "url": file_url(files_base, str(value["name"]))}
        out[name] = value
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def _summary(ev: Event) -> dict[str, Any]:
    """What a class-level event changed, without personal data: a schema change's names and
    types (a class-level permission change only as such: it may name users), a purge's count,
    the positions an erasure blanked (not who asked nor why: free text), a configuration
    change's parameters and flags."""
    p = ev.payload
    if ev.kind == PURGE:
        return {"count": p.get("count")}
    if ev.kind == ERASE:
        return {"positions": list(p.get("positions", ()))}
    if ev.kind == CONFIG:  # the master's view of Parse.Config: its values, as GET /config shows them
        return {key: p[key] for key in ("set", "unset", "masterKeyOnly") if key in p}
    if ev.kind == FILE:  # a file's upload or deletion; its metadata and tags stay in the log
        return {k: p.get(k) for k in ("action", "size", "contentType", "digest")}
    if ev.kind != SCHEMA:
        return {}
    out: dict[str, Any] = {}
    for key, name in (("new_class", "newClass"), ("fields", "fields"), ("deleted_fields", "deletedFields"),
                      ("indexes", "indexes"), ("dropped_indexes", "droppedIndexes"), ("drop_class", "dropClass")):
        if key in p:
            out[name] = p[key]
    if "clp" in p:
        out["classLevelPermissions"] = True
    return out
