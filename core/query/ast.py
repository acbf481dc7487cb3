"""`where` as typed nodes. Every evaluator walks these; nothing else parses Parse queries.

This first slice knows equality, $eq $ne $lt $lte $gt $gte $in $nin $exists, $and and $or;
anything else is refused with 102 naming the operator, never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from core.errors import ParseError
from core.values import type_of

COMPARISONS = frozenset({"$lt", "$lte", "$gt", "$gte"})


@dataclass(frozen=True, slots=True)
class Compare:
    """`field op value` where op is eq, ne, lt, lte, gt or gte."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class In:
    field: str
    values: tuple
    negate: bool = False  # $nin


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Node", ...]


Node = Union[Compare, In, Exists, And, Or]

_OPS = {"$eq": "eq", "$ne": "ne", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte"}


def parse_where(where: Any) -> Node:
    """Parse a `where` object; 102 with the offending key or operator when it is invalid."""
    if where is None:
        return And(())
    if not isinstance(where, dict):
        raise ParseError(ParseError.INVALID_QUERY, "where must be a JSON object")
    items: list[Node] = []
    for key, cond in where.items():
        if key in ("$or", "$and"):
            if not isinstance(cond, list) or not cond:
                raise ParseError(ParseError.INVALID_QUERY, f"{key} must be a nonempty array")
            subs = tuple(parse_where(c) for c in cond)
            items.append(Or(subs) if key == "$or" else And(subs))
        elif key.startswith("$"):
            raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid key name: {key}")
        else:
            _check_key(key)
            items.append(_parse_field(key, cond))
    return items[0] if len(items) == 1 else And(tuple(items))


def _check_key(key: str) -> None:
    if not key or not all(ch.isalnum() or ch == "_" for ch in key) or not key[0].isalpha():
        raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid key name: {key}")


def _parse_field(field: str, cond: Any) -> Node:
    if not (isinstance(cond, dict) and any(k.startswith("$") for k in cond)):
        _check_value(cond)
        return Compare(field, "eq", cond)
    parts: list[Node] = []
    for op, value in cond.items():
        if op in _OPS:
            _check_value(value)
            parts.append(Compare(field, _OPS[op], value))
        elif op in ("$in", "$nin"):
            if not isinstance(value, list):
                raise ParseError(ParseError.INVALID_QUERY, f"bad {op} value")
            for v in value:
                _check_value(v)
            parts.append(In(field, tuple(value), negate=op == "$nin"))
        elif op == "$exists":
            if not isinstance(value, bool):
                raise ParseError(ParseError.INVALID_QUERY, "$exists must be a boolean")
            parts.append(Exists(field, value))
        else:
            raise ParseError(ParseError.INVALID_QUERY, f"bad constraint {op} on key {field}")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _check_value(value: Any) -> None:
    try:
        type_of(value)
    except ParseError as e:
        raise ParseError(ParseError.INVALID_QUERY, f"invalid value in query: {e.message}") from None
