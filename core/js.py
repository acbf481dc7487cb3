"""How JavaScript reads a JSON value, where Parse Server's answers depend on it: the keys a
`for...in` visits, truthiness, and the text `${value}` makes in an error message."""

from __future__ import annotations

import math
from typing import Any

_MAX_INDEX = 2**32 - 2


def _is_index(key: str) -> bool:
    return key.isdigit() and (key == "0" or not key.startswith("0")) and int(key) <= _MAX_INDEX


def keys(value: Any) -> list[str]:
    """The keys `for (k in value)` visits: integer-like keys first in numeric order, then the
    others in insertion order; an array's or a string's indexes; nothing for anything else."""
    if isinstance(value, dict):
        ks = [str(k) for k in value]
        return sorted((k for k in ks if _is_index(k)), key=int) + [k for k in ks if not _is_index(k)]
    if isinstance(value, (list, str)):
        return [str(i) for i in range(len(value))]
    return []


def get(value: Any, key: str) -> Any:
    """`value[key]` for a key that `keys(value)` gave."""
    if isinstance(value, dict):
        return value[key]
    return value[int(key)]


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value is not None and value is not False and value != 0 and value != ""


def is_object(value: Any) -> bool:
    """`typeof value === 'object' && value !== null`."""
    return isinstance(value, (dict, list))


def text(value: Any) -> str:
    """`${value}`."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def type_of(value: Any) -> str:
    """JavaScript's `typeof` of a decoded JSON value, with arrays as "array" (as Parse's
    validators and messages name them); None is "object", as `typeof null` is."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
