"""Parse values to Python and back, for what user code receives and returns: a Date arrives as
an aware `datetime`, a Pointer (or a whole `__type: "Object"`) as a `ParseObject`; a returned
`datetime` leaves as a Parse Date and a `ParseObject` as Parse encodes a `Parse.Object` (the JS
SDK decodes them to a `Date` and a `Parse.Object`). Other Parse types (GeoPoint, File, Bytes,
Polygon, Relation) pass as their JSON."""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, timezone
from typing import Any

from parsnip.core.cloud import objects
from parsnip.core.errors import ParseError
from parsnip.core.values import iso, parse_iso


def decode(value: Any) -> Any:
    """A client's JSON value with Parse Dates as `datetime` and Pointers and Objects as
    `ParseObject`s (as Parse's functions router and the JS SDK's decode do)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind == "Date" and isinstance(value.get("iso"), str):
            try:
                return parse_iso(value["iso"])
            except ParseError:  # not a date JavaScript reads either: left as it came
                return value
        if kind in ("Pointer", "Object") and _names_an_object(value):
            return objects.ParseObject.from_json(value)
        return {k: decode(v) for k, v in value.items()}
    return value


def _names_an_object(value: dict) -> bool:
    """A Pointer or Object naming a stored object (one without an id comes back as it came)."""
    class_name, object_id = value.get("className"), value.get("objectId")
    return isinstance(class_name, str) and bool(class_name) and isinstance(object_id, str) and bool(object_id)


def encode(value: Any, *, pointers: bool = False, seen: tuple = ()) -> Any:
    """A Python value as Parse JSON (Parse's `_encode`); TypeError for what has none.

    A `ParseObject` is encoded whole, unless it is already being encoded, has unsaved changes
    or was never read (then a Pointer, as Parse does), or `pointers` (a save's body) asks for
    Pointers throughout."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON.stringify writes NaN/Infinity as null
    if isinstance(value, objects.ParseObject):
        if pointers or value.encodes_as_pointer(seen):
            return value.to_pointer()
        return value.full_json(seen)
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return {"__type": "Date", "iso": iso(at)}
    if isinstance(value, date):
        return {"__type": "Date", "iso": iso(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))}
    if isinstance(value, (bytes, bytearray)):
        return {"__type": "Bytes", "base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {str(k): encode(v, pointers=pointers, seen=seen) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, pointers=pointers, seen=seen) for v in value]
    raise TypeError(f"a {type(value).__name__} has no Parse encoding")
