"""`ParseObject`: one Parse object in Cloud Code, as the JS SDK's `Parse.Object` is, in Python.

Fields hold Python values (a Date as `datetime`, a Pointer as a `ParseObject`); changes
accumulate as Parse operations, merged as the JS SDK merges them (an increment after an
increment is one Increment), and become the body of `save`. `save`, `fetch` and `destroy` call
the service layer in-process (`core/services/`), acting as the master key, a session's user,
or a client with no session (`core/cloud/binding.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from parsnip.core.cloud import binding, codec
from parsnip.core.errors import ParseError
from parsnip.core.operations import canonical
from parsnip.core.services.classes import service_for
from parsnip.core.values import parse_iso

_MISSING = object()
# Keys that are the object's own, never fields it sets.
_RESERVED = frozenset({"objectId", "createdAt", "updatedAt"})


@dataclass(frozen=True, slots=True)
class Change:
    """A pending change of one field: Set, Delete, Increment, Add, AddUnique or Remove, with
    the new value, the amount, or the items (Python values)."""

    kind: str
    value: Any = None

    def to_json(self) -> Any:
        """The change as a save's body carries it (pointed-to objects as Pointers)."""
        if self.kind == "Set":
            return codec.encode(self.value, pointers=True)
        if self.kind == "Delete":
            return {"__op": "Delete"}
        if self.kind == "Increment":
            return {"__op": "Increment", "amount": self.value}
        return {"__op": self.kind, "objects": codec.encode(list(self.value), pointers=True)}


class ParseObject:
    """An object of `class_name`; `fields` are set as by `set` (the object is new and dirty)."""

    def __init__(self, class_name: str, fields: Mapping[str, Any] | None = None) -> None:
        if not isinstance(class_name, str) or not class_name:
            raise TypeError(f"a class name must be a non-empty string, not {class_name!r}")
        self.class_name = class_name
        self.id: str | None = None
        self.created_at = None
        self.updated_at = None
        self._fields: dict[str, Any] = {}  # what `get` answers: as last read or saved, with the changes
        self._changes: dict[str, Change] = {}
        self._synced: dict[str, Any] = {}  # each field's Parse JSON when last read or saved
        self._has_data = False  # read or saved (not a bare pointer, not new)
        for name, value in (fields or {}).items():
            if name == "objectId":
                self.id = value
            else:
                self.set(name, value)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Mapping[str, Any], class_name: str | None = None) -> "ParseObject":
        """The object a Parse JSON object describes (a REST result, a Pointer, `__type: Object`)."""
        obj = cls(class_name or data.get("className"))
        obj._load(data)
        return obj

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take the server's view of the object: its fields, id and dates; no pending changes."""
        self.id = data.get("objectId", self.id)
        if isinstance(data.get("createdAt"), str):
            self.created_at = parse_iso(data["createdAt"])
        if isinstance(data.get("updatedAt"), str):
            self.updated_at = parse_iso(data["updatedAt"])
        pointer = data.get("__type") == "Pointer"
        self._fields = {k: codec.decode(v) for k, v in data.items()
                        if k not in _RESERVED and k not in ("__type", "className")}
        self._changes = {}
        self._has_data = not pointer
        self._sync()

    def _sync(self) -> None:
        self._synced = {k: codec.encode(v, pointers=True) for k, v in self._fields.items()}

    # -- reading -------------------------------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        """A field's value (with this object's unsaved changes); `default` when it has none."""
        if name == "objectId":
            return self.id
        if name == "createdAt":
            return self.created_at
        if name == "updatedAt":
            return self.updated_at
        return self._fields.get(name, default)

    def has(self, name: str) -> bool:
        """Whether the field has a value (None counts as none, as in the JS SDK)."""
        return self.get(name) is not None

    @property
    def dirty(self) -> bool:
        """Whether the object has changes to save (a new object always has)."""
        return self.id is None or bool(self._changes) or bool(self._mutated())

    @property
    def session_token(self) -> str | None:
        """A `_User`'s session token, when this object carries one (`req.user`, a signup)."""
        token = self._fields.get("sessionToken")
        return token if isinstance(token, str) else None

    def to_pointer(self) -> dict[str, Any]:
        if self.id is None:
            raise ValueError("Cannot create a pointer to an unsaved ParseObject")
        return {"__type": "Pointer", "className": self.class_name, "objectId": self.id}

    def to_json(self) -> dict[str, Any]:
        """The object as Parse JSON, as a function result carries a `Parse.Object`: its fields,
        objectId, createdAt, updatedAt, `__type: "Object"` and className."""
        return self.full_json(())

    def full_json(self, seen: tuple) -> dict[str, Any]:
        """`to_json`, where objects already in `seen` (by class and id) stay Pointers."""
        seen = (*seen, self._seen_key())
        out: dict[str, Any] = {k: codec.encode(v, seen=seen) for k, v in self._fields.items()}
        if self.created_at is not None:
            out["createdAt"] = codec.encode(self.created_at)["iso"]
        if self.updated_at is not None:
            out["updatedAt"] = codec.encode(self.updated_at)["iso"]
        if self.id is not None:
            out["objectId"] = self.id
        return {**out, "__type": "Object", "className": self.class_name}

    def encodes_as_pointer(self, seen: tuple) -> bool:
        """Parse encodes an object as a Pointer when it is already being encoded, has unsaved
        changes or was never read (a bare pointer)."""
        return self._seen_key() in seen or self.dirty or not self._has_data

    def _seen_key(self) -> Any:
        return (self.class_name, self.id) if self.id is not None else id(self)

    def __repr__(self) -> str:
        return f"ParseObject({self.class_name!r}, id={self.id!r})"

    # -- changing ------------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> "ParseObject":
        """The field becomes `value`."""
        return self._change(name, Change("Set", value))

    def unset(self, name: str) -> "ParseObject":
        """The field is removed."""
        return self._change(name, Change("Delete"))

    def increment(self, name: str, amount: int | float = 1) -> "ParseObject":
        """Add `amount` to the number (atomically, on the server, when nothing else changed it)."""
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise TypeError("Cannot increment by a non-numeric amount.")
        return self._change(name, Change("Increment", amount))

    def add(self, name: str, *items: Any) -> "ParseObject":
        """Append the items to the array."""
        return self._change(name, Change("Add", list(items)))

    def add_unique(self, name: str, *items: Any) -> "ParseObject":
        """Append those of the items the array does not hold yet."""
        return self._change(name, Change("AddUnique", list(items)))

    def remove(self, name: str, *items: Any) -> "ParseObject":
        """Remove every occurrence of the items from the array."""
        return self._change(name, Change("Remove", list(items)))

    def _change(self, name: str, change: Change) -> "ParseObject":
        if not isinstance(name, str) or not name:
            raise TypeError(f"a field name must be a non-empty string, not {name!r}")
        if name in _RESERVED:
            raise ValueError(f"{name} is set by the server")
        merged = _merge(name, self._changes.get(name), change)
        if merged.kind in ("Set", "Delete"):  # the estimate is what the merged change stores
            present, value = _apply(merged, _MISSING)
        else:
            present, value = _apply(change, self._fields.get(name, _MISSING))
        self._changes[name] = merged
        if present:
            self._fields[name] = value
        else:
            self._fields.pop(name, None)
        return self

    def _mutated(self) -> list[str]:
        """Fields whose value was changed in place (a list appended to) since last read or saved."""
        return [k for k, v in self._fields.items()
                if k not in self._changes and isinstance(v, (list, dict))
                and codec.encode(v, pointers=True) != self._synced.get(k, _MISSING)]

    def save_body(self) -> dict[str, Any]:
        """The body a save sends: each change as its Parse operation."""
        body = {name: change.to_json() for name, change in self._changes.items()}
        for name in self._mutated():
            body[name] = codec.encode(self._fields[name], pointers=True)
        return body

    # -- the server ------------------------------------------------------------------------------
    async def save(self, master: bool = False, session_token: str | None = None) -> "ParseObject":
        """Create or update the object; it then has the server's answer (id, dates, the results
        of its operations, what a before_save trigger chose)."""
        rt, caller = await binding.acting(master, session_token)
        service = service_for(self.class_name)
        body = self.save_body()
        if self.id is None:
            saved = await service.create(rt, caller, self.class_name, body)
        elif body:
            saved = await service.update(rt, caller, self.class_name, self.id, body)
        else:
            return self
        answer = saved.body if saved.body is not None else json.loads(saved.text or "{}")
        self.id = saved.object_id
        self._load_answer(answer)
        return self

    def _load_answer(self, answer: Mapping[str, Any]) -> None:
        if isinstance(answer.get("createdAt"), str):
            self.created_at = parse_iso(answer["createdAt"])
            self.updated_at = self.created_at
        if isinstance(answer.get("updatedAt"), str):
            self.updated_at = parse_iso(answer["updatedAt"])
        for name, value in answer.items():
            if name not in _RESERVED:
                self._fields[name] = codec.decode(value)
        self._changes = {}
        self._has_data = True
        self._sync()

    async def fetch(self, master: bool = False, session_token: str | None = None,
                    include: Iterable[str] | str | None = None) -> "ParseObject":
        """Read the object as stored (101 when it is gone or hidden from the caller); unsaved
        changes are dropped. `include` names pointers to fetch with it."""
        if self.id is None:
            raise ValueError("Cannot fetch an unsaved ParseObject")
        rt, caller = await binding.acting(master, session_token)
        params = {"include": ",".join([include] if isinstance(include, str) else include)} if include else {}
        text = await service_for(self.class_name).get(rt, caller, self.class_name, self.id, params)
        self._load(json.loads(text))
        return self

    async def destroy(self, master: bool = False, session_token: str | None = None) -> None:
        """Delete the object (an unsaved one has nothing to delete)."""
        if self.id is None:
            return
        rt, caller = await binding.acting(master, session_token)
        await service_for(self.class_name).delete(rt, caller, self.class_name, self.id)


def _apply(change: Change, current: Any) -> tuple[bool, Any]:
    """The field after `change`, estimated as the server will compute it: (present, value)."""
    if change.kind == "Set":
        return True, change.value
    if change.kind == "Delete":
        return False, None
    if change.kind == "Increment":
        if current is _MISSING or current is None:
            return True, change.value
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise TypeError("Cannot increment a non-numeric value.")
        return True, current + change.value
    base = [] if current is _MISSING or current is None else current
    if not isinstance(base, list):
        raise TypeError(f"Cannot {change.kind} on a field that is not an array")
    if change.kind == "Add":
        return True, [*base, *change.value]
    if change.kind == "AddUnique":
        out, seen = list(base), {_key(v) for v in base}
        for item in change.value:
            if _key(item) not in seen:
                seen.add(_key(item))
                out.append(item)
        return True, out
    drop = {_key(v) for v in change.value}
    return True, [v for v in base if _key(v) not in drop]


def _key(value: Any) -> Any:
    """Equality as the database applies it to array items (a ParseObject by class and id)."""
    try:
        return canonical(codec.encode(value, pointers=True))
    except (ParseError, TypeError, ValueError):
        return ("identity", id(value))


def _merge(name: str, previous: Change | None, change: Change) -> Change:
    """One pending change from two, as the JS SDK merges operations."""
    if previous is None or change.kind in ("Set", "Delete"):
        return change
    if previous.kind == "Set":
        return Change("Set", _apply(change, previous.value)[1])
    if previous.kind == "Delete":
        return previous if change.kind == "Remove" else Change("Set", _apply(change, _MISSING)[1])
    if previous.kind == change.kind:
        if change.kind == "Increment":
            return Change("Increment", previous.value + change.value)
        if change.kind == "Add":
            return Change("Add", [*previous.value, *change.value])
        if change.kind == "AddUnique":
            return Change("AddUnique", _apply(change, previous.value)[1])
        return Change("Remove", _apply(Change("AddUnique", change.value), previous.value)[1])
    raise ValueError(f"{name}: cannot {change.kind} while a {previous.kind} is waiting to be saved; save first")
