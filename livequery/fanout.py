"""What one subscriber gets for one committed change, and its message body, built once.

`decide` follows Parse Server's rules: an object that matched the query (and was readable by
the subscriber's ACL and pointer permissions) before and after is an `update`; after only, a
`create` (new object) or an `enter`; before only, a `leave`; a delete of a matching readable
object, a `delete`. With `watch`, an update or create that changes none of the watched fields
is not sent. When a leave comes from losing read access, `object` is the last state the
subscriber could read; when an enter comes from gaining it, no `original` is sent.

`Bodies` serializes each (event type, states, keys, hidden fields) once per change, whatever
the number of subscribers that receive it; a client's message is its prefix, the requestId and
that shared text.
"""

from __future__ import annotations

import json
from typing import Any, Hashable

from parsnip.core.events import DELETE

_MISSING = object()
_ALWAYS = ("className", "objectId", "createdAt", "updatedAt", "ACL")


def decide(sub: Any, kind: str, object_id: str, before: dict | None, after: dict | None,
           matched_before: bool, matched_after: bool) -> tuple[str, dict, dict | None] | None:
    """(event type, object, original) for this subscription, or None when it gets nothing."""
    access = sub.access
    if access is None:
        return None
    if kind == DELETE:
        if matched_before and access.can_read(object_id, before):
            return "delete", before, None
        return None
    readable_before = matched_before and access.can_read(object_id, before)
    readable_after = matched_after and access.can_read(object_id, after)
    if readable_before and readable_after:
        kind_of = "update"
    elif readable_before:
        kind_of = "leave"
    elif readable_after:
        kind_of = "enter" if before is not None else "create"
    else:
        return None
    if sub.watch and kind_of in ("update", "create") and not _watched_changed(sub.watch, before, after):
        return None
    obj, original = after, before
    if kind_of == "leave" and (matched_after or not access.can_read(object_id, after)):
        obj = before
    elif kind_of == "enter" and (matched_before or not access.can_read(object_id, before)):
        original = None
    elif kind_of == "create":
        original = None
    return kind_of, obj, original


def _watched_changed(watch: tuple[str, ...], before: dict | None, after: dict | None) -> bool:
    old = before or {}
    new = after or {}
    return any(new.get(f, _MISSING) != old.get(f, _MISSING) or
               isinstance(new.get(f), bool) != isinstance(old.get(f), bool) for f in watch)


class Bodies:
    """The serialized `object`/`original`/`position` part of one change's messages, by shape."""

    def __init__(self, class_name: str, position: int, files_base: str) -> None:
        self._class = class_name
        self._position = position
        self._files = files_base
        self._cache: dict[Hashable, str] = {}

    def body(self, kind: str, obj: dict, original: dict | None, keys: tuple[str, ...] | None,
             hidden: frozenset[str], hidden_original: frozenset[str]) -> str:
        key = (kind, id(obj), id(original), keys, hidden, hidden_original)
        text = self._cache.get(key)
        if text is None:
            text = ',"object":' + self._json(obj, keys, hidden)
            if original is not None:
                text += ',"original":' + self._json(original, keys, hidden_original)
            text += f',"position":{self._position}}}'
            self._cache[key] = text
        return text

    def _json(self, obj: dict, keys: tuple[str, ...] | None, hidden: frozenset[str]) -> str:
        out: dict[str, Any] = {"className": self._class}
        if keys is None:
            fields = obj.items()
        else:
            fields = ((k, obj[k]) for k in (*_ALWAYS[1:], *keys) if k in obj)
        for name, value in fields:
            if name in hidden:
                continue
            if isinstance(value, dict) and value.get("__type") == "File" and "name" in value:
                value = {**value, "url": self._files + str(value["name"])}
            out[name] = value
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)
