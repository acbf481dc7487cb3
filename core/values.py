"""Parse's data types: what type a JSON value has, whether it is well formed, and dates.

Values are kept in Parse's REST encoding everywhere (events, projections, responses), so a
Date is `{"__type": "Date", "iso": "2020-01-02T03:04:05.678Z"}` end to end and nothing is
re-encoded on the read path.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import string
from datetime import datetime, timezone
from typing import Any

from parsnip.core.errors import ParseError
from parsnip.core.json_input import MAX_DEPTH  # values nest at most this deep; deeper is refused, not recursed

_ID_ALPHABET = string.ascii_letters + string.digits


def new_object_id(size: int = 10) -> str:
    """A random objectId of `size` alphanumerics, as Parse Server generates them."""
    out: list[str] = []
    while len(out) < size:
        # Bytes below 248 (4 x 62) map evenly onto the 62 symbols; the rest are dropped.
        out.extend(_ID_ALPHABET[b % 62] for b in secrets.token_bytes(size + 4) if b < 248)
    return "".join(out[:size])


def now() -> datetime:
    """The current time truncated to milliseconds, the precision Parse exposes."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond - t.microsecond % 1000)


def iso(t: datetime) -> str:
    """Parse's ISO-8601 form, as JavaScript's `toISOString`: UTC, a four-digit year,
    milliseconds, a `Z`. (isoformat is half the cost of strftime, and pads a year below 1000.)"""
    if t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    return t.isoformat(timespec="milliseconds")[:23] + "Z"


def parse_iso(text: str) -> datetime:
    """Read an ISO-8601 date as Parse clients send it; 111 when it is not one."""
    if not isinstance(text, str):
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid date")
    s = text.strip()
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(s)
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return t.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: past year 9999 once in UTC
        raise ParseError(ParseError.INCORRECT_TYPE, f"invalid date: {text}") from None


def date_value(t: datetime) -> dict:
    return {"__type": "Date", "iso": iso(t)}


def type_of(value: Any) -> dict | None:
    """The schema type of a stored value (`{"type": "Pointer", "targetClass": ...}`), None for null.

    Raises 111 for a malformed typed value, so nothing ill-formed reaches the log: also for a
    string holding NUL (PostgreSQL text and jsonb cannot), a value nested deeper than MAX_DEPTH.
    """
    return _type_of(value, 1)


def _type_of(value: Any, depth: int) -> dict | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "Boolean"}
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ParseError(ParseError.INCORRECT_TYPE, "numbers must be finite")
        return {"type": "Number"}
    if isinstance(value, str):
        _check_text(value)
        return {"type": "String"}
    if depth > MAX_DEPTH:
        raise ParseError(ParseError.INCORRECT_TYPE, f"values may nest at most {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        for item in value:
            _type_of(item, depth + 1)
        return {"type": "Array"}
    if isinstance(value, dict):
        if "__type" not in value:
            for key, item in value.items():
                _check_nested_key(key)
                _type_of(item, depth + 1)
            return {"type": "Object"}
        kind = value["__type"]
        checker = _TYPED.get(kind) if isinstance(kind, str) else None
        if checker is None:
            raise ParseError(ParseError.INCORRECT_TYPE, f"invalid type: {_shown(kind)}")
        _check_strings(value, depth)
        return checker(value)
    raise ParseError(ParseError.INCORRECT_TYPE, "invalid value")


def checked_type(value: Any) -> dict | None:
    """The schema type of a value whose contents `type_of` has already checked: an array's or
    an object's elements are not walked again, so the writer does not go through a 20 MB array
    a second time on the database's loop (a typed value, small, is checked whole)."""
    if isinstance(value, list):
        return {"type": "Array"}
    if isinstance(value, dict) and "__type" not in value:
        return {"type": "Object"}
    return _type_of(value, 1)


def _shown(kind: Any) -> str:
    return kind if isinstance(kind, str) else type(kind).__name__


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ParseError(ParseError.INCORRECT_TYPE, "strings may not contain the NUL character (\\u0000)")


def _check_strings(container: dict | list, depth: int) -> None:
    """A typed value's own strings (className, objectId, name, any extra key) are stored as sent."""
    for key, item in container.items() if isinstance(container, dict) else enumerate(container):
        if isinstance(key, str) and "\x00" in key:
            _check_text(key)
        if isinstance(item, str):
            if "\x00" in item:
                _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ParseError(ParseError.INCORRECT_TYPE, f"values may nest at most {MAX_DEPTH} levels deep")
            _check_strings(item, depth + 1)


def _check_nested_key(key: str) -> None:
    if not isinstance(key, str):
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid value")
    if "$" in key or "." in key:
        raise ParseError(ParseError.INVALID_NESTED_KEY, "Nested keys should not contain the '$' or '.' characters")
    _check_text(key)


def _date(v: dict) -> dict:
    parse_iso(v.get("iso"))
    return {"type": "Date"}


def _pointer(v: dict) -> dict:
    cls, oid = v.get("className"), v.get("objectId")
    if not isinstance(cls, str) or not isinstance(oid, str) or not cls:
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid pointer")
    return {"type": "Pointer", "targetClass": cls}


def _file(v: dict) -> dict:
    if not isinstance(v.get("name"), str):
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid file")
    return {"type": "File"}


def _geopoint(v: dict) -> dict:
    lat, lon = v.get("latitude"), v.get("longitude")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lat, lon)):
        raise ParseError(ParseError.INVALID_JSON, "invalid GeoPoint")
    if not -90.0 <= lat <= 90.0:
        raise ParseError(ParseError.INVALID_JSON, "GeoPoint latitude out of bounds: " + str(lat))
    if not -180.0 <= lon <= 180.0:
        raise ParseError(ParseError.INVALID_JSON, "GeoPoint longitude out of bounds: " + str(lon))
    return {"type": "GeoPoint"}


def _polygon(v: dict) -> dict:
    coords = v.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 3:
        raise ParseError(ParseError.INVALID_JSON, "Polygon must have at least 3 values")
    for point in coords:
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in point)
        ):
            raise ParseError(ParseError.INVALID_JSON, "Polygon coordinates must be [latitude, longitude] pairs")
    return {"type": "Polygon"}


def _bytes(v: dict) -> dict:
    data = v.get("base64")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid Bytes value") from None
    return {"type": "Bytes"}


def _relation(v: dict) -> dict:
    cls = v.get("className")
    if not isinstance(cls, str):
        raise ParseError(ParseError.INCORRECT_TYPE, "invalid relation")
    return {"type": "Relation", "targetClass": cls}


_TYPED = {
    "Date": _date,
    "Pointer": _pointer,
    "File": _file,
    "GeoPoint": _geopoint,
    "Polygon": _polygon,
    "Bytes": _bytes,
    "Relation": _relation,
}


def pointer_class(value: Any) -> str | None:
    """The target class when `value` is a pointer or relation reference."""
    if isinstance(value, dict) and value.get("__type") in ("Pointer", "Relation"):
        return value.get("className")
    return None
