"""The event model: what one committed change is, and how it is encoded in the log.

An event records who and how (`Context`) and what: the operations the client asked for and
the resulting values of the fields they touched. Payloads are msgpack; values inside stay in
Parse's REST encoding, so an event can be replayed without the schema or the projections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgpack

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
# A change to a class's schema. Payload: "fields" added {name: type}, "new_class" when the class
# is created, "clp" when its classLevelPermissions are set (see core/schema.py: SchemaCache).
SCHEMA = "schema"


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
    # Not stored: the object's full state after (and before) the change, for consumers of the
    # in-process bus (LiveQuery, after-triggers) so they need no read that could race.
    after: dict[str, Any] | None = field(default=None, compare=False)
    before: dict[str, Any] | None = field(default=None, compare=False)


def encode_payload(payload: dict[str, Any]) -> bytes:
    return msgpack.packb(payload, use_bin_type=True)


def decode_payload(data: bytes) -> dict[str, Any]:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
