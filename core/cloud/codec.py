"""Parse values to Python and back, for what user code receives and returns: a Date arrives as
an aware `datetime` and a returned `datetime` leaves as a Parse Date (the JS SDK decodes it to a
`Date`); other Parse types pass as their JSON for now."""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, timezone
from typing import Any

from parsnip.core.errors import ParseError
from parsnip.core.values import iso, parse_iso


def decode(value: Any) -> Any:
    """A client's JSON value with Parse Dates as `datetime` (as Parse's functions router does)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if value.get("__type") == "Date" and isinstance(value.get("iso"), str):
            try:
                return parse_iso(value["iso"])
            except ParseError:  # not a date JavaScript reads either: left as it came
                return value
        return {k: decode(v) for k, v in value.items()}
    return value


def encode(value: Any) -> Any:
    """A handler's result as Parse JSON (Parse's `_encode`); TypeError for what has none."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON.stringify writes NaN/Infinity as null
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return {"__type": "Date", "iso": iso(at)}
    if isinstance(value, date):
        return {"__type": "Date", "iso": iso(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))}
    if isinstance(value, (bytes, bytearray)):
        return {"__type": "Bytes", "base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    to_json = getattr(value, "to_json", None)  # ParseObject and friends (next slice)
    if callable(to_json):
        return to_json()
    raise TypeError(f"a cloud function returned a {type(value).__name__}, which has no Parse encoding")
