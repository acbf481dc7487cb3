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

from parsnip.core.errors import ParseError
from parsnip.core.events import DELETE, Event, object_states
from parsnip.core.layout import file_url
from parsnip.core.query.match import matches

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


def matched(node: Any, obj: dict | None) -> bool:
    """Whether `obj` matches the query (an object it cannot be compared with does not)."""
    if obj is None:
        return False
    try:
        return matches(node, obj)
    except ParseError:
        return False


def visible(sub: Any, ev: Event, before: dict | None, after: dict | None, mb: bool, ma: bool
            ) -> tuple[str, dict, dict | None, frozenset[str], frozenset[str]] | None:
    """(event type, object, original, hidden fields of each) for this subscriber, or None."""
    decided = decide(sub, ev.kind, ev.object_id, before, after, mb, ma)
    if decided is None:
        return None
    kind, obj, original = decided
    access = sub.access
    hidden = access.hidden_fields(ev.object_id, obj)
    hidden_original = access.hidden_fields(ev.object_id, original) if original is not None else frozenset()
    return kind, obj, original, hidden, hidden_original


def message_body(sub: Any, ev: Event, before: dict | None, after: dict | None, mb: bool, ma: bool,
                 bodies: "Bodies") -> tuple[str, str] | None:
    """(event type, message body) for this subscriber, or None."""
    seen = visible(sub, ev, before, after, mb, ma)
    if seen is None:
        return None
    kind, obj, original, hidden, hidden_original = seen
    return kind, bodies.body(kind, obj, original, sub.keys, hidden, hidden_original)


def replayed(sub: Any, ev: Event, files_base: str) -> tuple[str, dict, dict | None, frozenset[str], frozenset[str]] | None:
    """What a resuming subscriber gets for a past event (matched afresh), or None."""
    before, after = object_states(ev)
    node = sub.query.node
    mb = matched(node, before)
    ma = matched(node, after)
    if not (mb or ma):
        return None
    return visible(sub, ev, before, after, mb, ma)


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

    def fresh(self, kind: str, obj: dict, original: dict | None, keys: tuple[str, ...] | None,
              hidden: frozenset[str], hidden_original: frozenset[str]) -> str:
        """The same body, not shared (for objects a hook may have changed)."""
        text = ',"object":' + self._json(obj, keys, hidden)
        if original is not None:
            text += ',"original":' + self._json(original, keys, hidden_original)
        return text + f',"position":{self._position}}}'

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
                value = {**value, "url": file_url(self._files, str(value["name"]))}
            out[name] = value
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)
