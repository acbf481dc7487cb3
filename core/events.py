"""The event model: what one committed change is, and how it is encoded in the log.

An event records who and how (`Context`) and what: the operations the client asked for and
the resulting values of the fields they touched. Payloads are msgpack; values inside stay in
Parse's REST encoding, so an event can be replayed without the schema or the projections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import msgpack

from parsnip.core.values import iso, parse_iso

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
# Object events carry the object's whole state, so a consumer reading the log (LiveQuery on any
# node, a resuming client, history) never needs a read that could race with a later write:
#   create: "set"    every field (ACL included); createdAt = updatedAt = the event's time, except
#           for an undelete (a restore), whose "created" (ISO) keeps the object's first createdAt
#   update: "state"  every field after; "was" the old values of the touched fields that had one
#           (a touched field absent from "was" did not exist); "created", "prev": ISO times
#           of the object's creation and of its previous version
#   delete: "state"  every field before the delete; "created", "prev" as for update
# A restore (core/restore.py: POST /history/.../restore) emits these same three kinds, each with
#   "restore": {"position": P}  the log position whose state it puts back ("version": n as
#           well when a version was asked for); history shows such a version as op "restore"
RESTORE = "restore"  # the payload key of a restore's events, and the op history shows for them


def restored(ev: "Event") -> bool:
    """Whether a create, update or delete event was made by a restore (its payload's RESTORE)."""
    return RESTORE in ev.payload


# A change to a class's schema (object_id None, version 0). Payload, every key optional:
#   "new_class": true      the class is created (its table made)
#   "fields": {name: type} fields added
#   "deleted_fields": [..] fields removed, from the schema and from every object's data
#   "clp": {...} | null    classLevelPermissions set (null: back to the defaults)
#   "indexes": {name: {field: 1 | -1 | "text"}}  indexes added ("_id_" is the primary key)
#   "dropped_indexes": [..] indexes dropped
#   "drop_class": true     the class is dropped: its table and schema go
# `core/schema.py: evolve` is how a payload changes a class; `projections/store.py` applies it.
SCHEMA = "schema"
# Every object of a class deleted at once (DELETE /purge/{className}); the schema stays.
# Payload: "count", how many objects went.
PURGE = "purge"
# An object's data erased from the log (core/erasure.py): its earlier events' payloads are blanked
# in place (each then has `erased_by`, this event's position) and the object leaves the
# projections. Payload: "positions" blanked, "by" (who the operator said erased), "reason".
ERASE = "erase"
# A change to the app's Parse.Config (PUT /config; core/global_config.py), class_name "@Config",
# object_id None, version: the configuration's own count of changes. Payload, every key optional:
#   "set": {name: value}        parameters set (REST encoding; a null is a stored null, as Parse)
#   "unset": [..]               parameters deleted ({"__op": "Delete"})
#   "masterKeyOnly": {name: v}  each named parameter's master-key-only flag (false, or the truthy
#                               value sent); null: the flag is deleted
# `core/global_config.py: apply` is how a payload changes the configuration; projections/store.py
# applies it to `parsnip_config`.
CONFIG = "config"
CONFIG_CLASS = "@Config"  # the class name of config events, and Cloud Code's trigger target
# A Parse file uploaded or deleted (core/files/): class_name "@File" (Parse's trigger target),
# object_id the stored name, version 1 for its upload, then one more per event. The bytes live
# in the files adapter; the log keeps what they were. Payload:
#   "action": "create" | "delete"
#   "size", "contentType", "digest" (hex sha-256 of the bytes), "metadata", "tags": as uploaded
#           (a delete repeats them, so one event says everything about the file it ends)
FILE = "file"
FILE_CLASS = "@File"


@dataclass(frozen=True, slots=True)
class Context:
    """Who made a request and how: kept on every event it causes."""

    user_id: str | None = None
    session_id: str | None = None
    installation_id: str | None = None
    master: bool = False
    request_id: str | None = None
    client_ip: str | None = None


SYSTEM = Context(master=True)


@dataclass(slots=True)
class Event:
    """One change. `position` is set when the event is appended; dense, in commit order."""

    kind: str
    class_name: str
    object_id: str | None
    version: int
    at: datetime
    context: Context
    payload: dict[str, Any]
    position: int | None = None
    erased_by: int | None = None  # set when the payload was erased: the erase event's position


def encode_payload(payload: dict[str, Any]) -> bytes:
    return msgpack.packb(payload, use_bin_type=True)


def decode_payload(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def state_payload(state: dict, before: dict, after: dict | None = None, ops: Iterable[str] = ()) -> dict[str, Any]:
    """The whole-state part of an update's (`after` given) or a delete's payload, from the
    object's stored `state` (fields, created_at, updated_at): "state", "created", "prev", "was"."""
    out = {"state": before if after is None else after, "created": iso(state["created_at"]),
           "prev": iso(state["updated_at"])}
    if after is not None:
        out["was"] = {name: before[name] for name in ops if name in before}
    return out


def created_at(ev: Event) -> datetime:
    """The createdAt a CREATE event gives its object: the event's time, or the one an undelete keeps."""
    created = ev.payload.get("created")
    return ev.at if created is None else parse_iso(created)


def object_states(ev: Event) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(before, after) of an object event as Parse objects (objectId, createdAt, updatedAt, ACL
    and every field, REST encoding; no File URLs); None where the object does not exist."""
    if ev.erased_by is not None:
        return None, None
    p = ev.payload
    at = iso(ev.at)
    if ev.kind == CREATE:
        return None, {**p.get("set", {}), "objectId": ev.object_id, "createdAt": p.get("created", at), "updatedAt": at}
    if ev.kind not in (UPDATE, DELETE) or "state" not in p:
        return None, None
    base = {"objectId": ev.object_id, "createdAt": p.get("created", at)}
    if ev.kind == DELETE:
        return {**p["state"], **base, "updatedAt": p.get("prev", at)}, None
    before = dict(p["state"])
    was = p.get("was", {})
    for name in (*p.get("set", {}), *p.get("unset", ())):
        if name in was:
            before[name] = was[name]
        else:
            before.pop(name, None)
    return {**before, **base, "updatedAt": p.get("prev", at)}, {**p["state"], **base, "updatedAt": at}
