"""One version of an object as history shows it (GET /history; a change feed reuses it):
position, version, op, at, by, changes (the operations as written), byTrigger (the fields a
Cloud Code trigger set) and object (the whole object after, as a live read shows it to the
caller; null after a delete)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parsnip.core.events import Context
from parsnip.core.values import iso

# What made a version (the history table's `kind`) as an entry's `op`: a purge deletes.
_OPS = {"create": "create", "update": "update", "delete": "delete", "restore": "restore", "purge": "delete"}


@dataclass(frozen=True, slots=True)
class Version:
    """One row of an object's history, with its event's who and what."""

    position: int
    version: int
    kind: str
    at: datetime
    context: Context
    payload: dict[str, Any]
    object: str | None  # the object's JSON text as the caller may see it; None once deleted
    hidden: frozenset[str] = frozenset()  # fields the caller may not see in this version


def by(context: Context, master: bool) -> dict[str, Any]:
    """Who made the change. A client sees which user did it and whether the master key did;
    sessions, installations, request ids and addresses are for the master key only."""
    return {
        "user": context.user_id,
        "session": context.session_id if master else None,
        "master": context.master,
        "installationId": context.installation_id if master else None,
        "requestId": context.request_id if master else None,
        "ip": context.client_ip if master else None,
    }


def encode(v: Version, master: bool, extra: dict[str, Any] | None = None, op: str | None = None) -> str:
    """The entry as JSON text; the object's text goes in as PostgreSQL built it. `extra` keys
    (a change feed's className and objectId) come first; `op`, when given, is the entry's op
    (a change feed's class-level events: a purge there is not an object's delete)."""
    head = {
        **(extra or {}),
        "position": v.position,
        "version": v.version,
        "op": op or _OPS.get(v.kind, v.kind),
        "at": iso(v.at),
        "by": by(v.context, master),
        # A protected field's new value is as hidden in the changes as in the object.
        "changes": {k: op for k, op in v.payload.get("ops", {}).items() if k not in v.hidden and k != "password"},
        "byTrigger": [k for k in v.payload.get("hooked", ()) if k not in v.hidden],
    }
    return json.dumps(head, separators=(",", ":"))[:-1] + ',"object":' + (v.object or "null") + "}"
