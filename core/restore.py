"""Restore: the one ordinary event that puts an object back as it was (POST /history/.../restore).

The writer locks the object (or, for a class, its table), has its `Projector` read the target
from the history table, and asks `plan` for the event that turns the current state into the
target: a CREATE that undeletes (keeping the objectId and createdAt; its version follows the
object's last), an UPDATE that reverts (Set and Delete operations with the usual whole state,
so LiveQuery tells update, enter and leave apart as for any update), or a DELETE (an object a
class restore finds created since). Each carries `"restore": {"position": P}` ("version": n too
when one was asked for: core/events.py); none is planned when the object already is the target.
No Cloud Code trigger runs: a restore is an operator's repair with the master key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from parsnip.core.commands import Command, Restore, RestoreClass
from parsnip.core.events import CREATE, DELETE, RESTORE, UPDATE, Context, Event, state_payload
from parsnip.core.operations import Op
from parsnip.core.values import iso

# An object's state as the writer holds it (`Projector.load_for_update`): (version, {"fields"
# (ACL included), "created_at", "updated_at"}).
State = tuple[int, dict]


@dataclass(frozen=True, slots=True)
class Target:
    """An object as it stood at `position`, read from the history table."""

    object_id: str
    position: int  # the moment restored to
    state: dict | None  # {"fields", "created_at", "updated_at"}; None: the object did not exist then
    last_version: int  # its last version in history: an undelete's version follows it


@dataclass(frozen=True, slots=True)
class Planned:
    """The event a restore emits, and the object's state after it (None: deleted)."""

    event: Event
    after: State | None


def plan(class_name: str, current: State | None, target: Target, context: Context, at: datetime,
         version: int | None = None) -> Planned | None:
    """The event that makes `current` (None: not live) what `target` was; None if it already is."""
    mark: dict[str, Any] = {"position": target.position}
    if version is not None:
        mark["version"] = version
    oid, wanted = target.object_id, target.state
    if current is None:
        if wanted is None:
            return None
        fields = dict(wanted["fields"])
        payload = {"ops": dict(fields), "set": fields, "created": iso(wanted["created_at"]), RESTORE: mark}
        after = (target.last_version + 1, {"fields": fields, "created_at": wanted["created_at"], "updated_at": at})
        return Planned(Event(CREATE, class_name, oid, after[0], at, context, payload), after)
    number, state = current
    if wanted is None:
        payload = {**state_payload(state, state["fields"]), RESTORE: mark}
        return Planned(Event(DELETE, class_name, oid, number + 1, at, context, payload), None)
    before, goal = state["fields"], wanted["fields"]
    if _equal(before, goal):
        return None
    ops = {name: Op("Set", value) for name, value in goal.items()
           if name not in before or not _equal(before[name], value)}
    ops.update({name: Op("Delete") for name in before if name not in goal})
    changed = {name: op.value for name, op in ops.items() if op.kind == "Set"}
    payload = {"ops": {name: op.to_json() for name, op in ops.items()}, "set": changed,
               "unset": [name for name, op in ops.items() if op.kind == "Delete"],
               **state_payload(state, before, dict(goal), ops), RESTORE: mark}
    after = (number + 1, {"fields": dict(goal), "created_at": state["created_at"], "updated_at": at})
    return Planned(Event(UPDATE, class_name, oid, number + 1, at, context, payload), after)


def schema_ops(ev: Event) -> dict[str, Op]:
    """The fields a planned event writes, as operations: the schema must hold their types."""
    return {name: Op("Set", value) for name, value in ev.payload.get("set", {}).items()}


def counts(planned: Sequence[Planned]) -> dict[str, int]:
    """A class restore's answer: objects undeleted, deleted (created since) and reverted."""
    kinds = [p.event.kind for p in planned]
    return {"restored": kinds.count(CREATE), "deleted": kinds.count(DELETE), "reverted": kinds.count(UPDATE)}


def is_restore(commands: Sequence[Command]) -> bool:
    """Whether a unit restores: it reads the history table, which holds only what is committed,
    so the writer gives it a transaction of its own (never behind other units of a batch)."""
    return any(isinstance(cmd, (Restore, RestoreClass)) for cmd in commands)


def _equal(a: Any, b: Any) -> bool:
    """The same JSON value. Python holds `1 == True`: the types are compared too, deeply."""
    return a == b and _shape(a) == _shape(b)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return "number" if isinstance(value, (int, float)) else type(value).__name__
