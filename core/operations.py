"""Update operators: the body of a create or update, read into typed field operations.

A body field is either a plain value (Set) or `{"__op": ...}`. Parsing checks shapes up front
so that a bad body fails before anything is written; `apply` computes the resulting value from
the current one inside the write transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable

from parsnip.core.errors import ParseError
from parsnip.core.json_input import js_number
from parsnip.core.values import checked_type, date_value, parse_iso, type_of


@dataclass(frozen=True, slots=True)
class Op:
    """One field operation. `kind` is Set, Delete, Increment, Add, AddUnique or Remove."""

    kind: str
    value: Any = None  # the value for Set, the amount for Increment, the objects for Add*/Remove

    def to_json(self) -> Any:
        """The operation as the client sent it (stored in the event for audit)."""
        if self.kind == "Set":
            return self.value
        if self.kind == "Delete":
            return {"__op": "Delete"}
        if self.kind == "Increment":
            return {"__op": "Increment", "amount": self.value}
        if self.kind == "Relation":
            return _relation_json(self.value)
        return {"__op": self.kind, "objects": self.value}

    def result_type(self) -> dict | None:
        """The schema type this operation implies for its field (None: implies none)."""
        if self.kind == "Set":
            return checked_type(self.value)  # parse_op checked the whole value
        if self.kind == "Increment":
            return {"type": "Number"}
        if self.kind in ("Add", "AddUnique", "Remove"):
            return {"type": "Array"}
        if self.kind == "Relation":
            return {"type": "Relation", "targetClass": self.value["className"]}
        return None


def parse_op(value: Any) -> Op:
    """Read one body field into an Op; 111 or 108 when the operator is malformed or unknown."""
    if not (isinstance(value, dict) and "__op" in value):
        t = type_of(value)  # validates typed values (Date, Pointer, GeoPoint, ...)
        if t is not None and t["type"] == "Polygon":
            value = _closed(value)
        elif t is not None and t["type"] == "Date":
            value = date_value(parse_iso(value["iso"]))  # stored as Parse answers: UTC, .mmmZ
        return Op("Set", value)
    name = value["__op"]
    if name == "Delete":
        return Op("Delete")
    if name == "Increment":
        amount = value.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise ParseError(ParseError.INVALID_JSON, "incrementing must provide a number")
        return Op("Increment", amount)
    if name in ("Add", "AddUnique", "Remove"):
        objects = value.get("objects")
        if not isinstance(objects, list):
            raise ParseError(ParseError.INVALID_JSON, "objects to add must be an array")
        for item in objects:
            type_of(item)
        return Op(name, objects)
    if name in ("AddRelation", "RemoveRelation", "Batch"):
        return Op("Relation", _relation_change(value))
    raise ParseError(ParseError.INVALID_JSON, f"bad op {name}")


def _relation_change(value: dict) -> dict:
    """AddRelation, RemoveRelation, or a Batch of them, as one change of one relation:
    {"className": target class, "add": [objectIds], "remove": [objectIds]}."""
    ops = value.get("ops") if value["__op"] == "Batch" else [value]
    if not isinstance(ops, list) or not ops:
        raise ParseError(ParseError.INVALID_JSON, "Batch ops must be a nonempty array")
    change: dict[str, Any] = {"className": None, "add": [], "remove": []}
    for op in ops:
        kind = op.get("__op") if isinstance(op, dict) else None
        if kind not in ("AddRelation", "RemoveRelation"):
            raise ParseError(ParseError.INVALID_JSON, "a Batch may only hold AddRelation and RemoveRelation")
        objects = op.get("objects")
        if not isinstance(objects, list) or not objects:
            raise ParseError(ParseError.INVALID_JSON, f"{kind} needs a nonempty array of objects")
        for obj in objects:
            t = type_of(obj) if isinstance(obj, dict) else None
            if t is None or t["type"] != "Pointer":
                raise ParseError(ParseError.INVALID_JSON, f"{kind} objects must be pointers")
            if change["className"] not in (None, obj["className"]):
                raise ParseError(
                    ParseError.INCORRECT_TYPE,
                    f"Tried to create a relation with two different classes: {change['className']}"
                    f" and {obj['className']}",
                )
            change["className"] = obj["className"]
            target = change["add" if kind == "AddRelation" else "remove"]
            if obj["objectId"] not in target:
                target.append(obj["objectId"])
    return change


def _relation_json(change: dict) -> dict:
    def op(kind: str, ids: list[str]) -> dict:
        return {"__op": kind, "objects": [
            {"__type": "Pointer", "className": change["className"], "objectId": i} for i in ids]}

    ops = [op(k, change[key]) for k, key in (("AddRelation", "add"), ("RemoveRelation", "remove")) if change[key]]
    return ops[0] if len(ops) == 1 else {"__op": "Batch", "ops": ops}


def _closed(polygon: dict) -> dict:
    """Parse Server stores polygons closed: the first point repeated at the end."""
    coords = polygon["coordinates"]
    if coords[0] == coords[-1]:
        return polygon
    return {**polygon, "coordinates": [*coords, coords[0]]}


def apply(op: Op, current: Any, present: bool) -> tuple[bool, Any]:
    """The field after `op`: (present, value). `present` False means the field is unset."""
    if op.kind == "Set":
        return True, op.value
    if op.kind == "Delete":
        return False, None
    if op.kind == "Relation":
        # The field itself only names the target class; the members live in the relation table.
        return True, {"__type": "Relation", "className": op.value["className"]}
    if op.kind == "Increment":
        if not present or current is None:
            return True, op.value
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise ParseError(ParseError.INVALID_JSON, "Cannot increment a field that is not a number")
        return True, _js_number(current + op.value)
    base = current if present and current is not None else []
    if not isinstance(base, list):
        raise ParseError(ParseError.INCORRECT_TYPE, f"Cannot apply {op.kind} to a field that is not an array")
    if op.kind == "Add":
        return True, base + list(op.value)
    if op.kind == "AddUnique":
        out = list(base)
        seen = {canonical(item) for item in base}
        for item in op.value:
            key = canonical(item)
            if key not in seen:
                seen.add(key)
                out.append(item)
        return True, out
    # Remove
    drop = {canonical(item) for item in op.value}
    return True, [item for item in base if canonical(item) not in drop]


def _js_number(n: int | float) -> int | float:
    """A sum as JavaScript computes it (in doubles past 2^53, so it always fits the log's
    msgpack); an infinite one is refused rather than stored."""
    if isinstance(n, float) and not math.isfinite(n):
        raise ParseError(ParseError.INCORRECT_TYPE, "numbers must be finite")
    return js_number(n)


def canonical(value: Any) -> Hashable:
    """A hashable form under which two JSON values are equal exactly when PostgreSQL's jsonb
    says so, which is the equality Parse Server on PostgreSQL uses for AddUnique and Remove:
    1 equals 1.0, true does not equal 1, and an object's key order does not matter. It makes
    AddUnique and Remove linear: one hash per element instead of comparing every pair."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is dict:
        return frozenset([(k, v if type(v) is str else canonical(v)) for k, v in value.items()])
    if kind is int or kind is float:
        return value  # 1 and 1.0 are equal and hash alike in Python, as in jsonb
    if kind is bool:
        return (_BOOL, value)  # never equal to 1 or 0
    if kind is list:
        return (_ARRAY, tuple([canonical(v) for v in value]))
    raise ParseError(ParseError.INCORRECT_TYPE, "invalid value")


# Tags no JSON value can equal, so a tagged form never meets an untagged one.
_BOOL, _ARRAY = object(), object()
