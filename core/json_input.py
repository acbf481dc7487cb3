"""JSON from clients, read as Parse Server (JavaScript) reads it, within bounds.

Every JSON a client sends (a request body, `where`, `pipeline`, a LiveQuery message) goes
through `loads`, so that what reaches the domain is something PostgreSQL, msgpack and the rest
of Parsnip can hold:

- nesting is bounded (`MAX_DEPTH`): Python's decoder and every recursive walk after it would
  otherwise fail on a few thousand brackets;
- an integer beyond JavaScript's safe range becomes the double JavaScript would read (Parse
  stores 2^64 as 18446744073709552000); msgpack cannot hold integers of 2^64 and more;
- a lone UTF-16 surrogate (`"\\ud800"`, which JavaScript's JSON.stringify emits for a string
  cut inside an emoji) becomes U+FFFD, as Node does when it writes the string to PostgreSQL;
- NaN and Infinity literals are refused, as JSON.parse refuses them.

Errors are 107 (Parse's "invalid JSON"), with the reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

from parsnip.core.errors import ParseError

# MongoDB, Parse's original database, refuses documents nested deeper than 100 levels, so no
# Parse app stores deeper data; queries and request bodies add a few levels around the data.
MAX_DEPTH = 100

_MAX_SAFE = 2**53  # JavaScript's Number.MAX_SAFE_INTEGER + 1
_INT64 = 2**63
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_DIGITS = re.compile(r"\d{16}")


class TooDeep(ParseError):
    """JSON nested deeper than MAX_DEPTH (107)."""


def too_deep(message: str = "JSON is nested too deeply") -> ParseError:
    return TooDeep(ParseError.INVALID_JSON, f"{message} (at most {MAX_DEPTH} levels)")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def js_number(n: int | float) -> int | float:
    """A number as JavaScript holds it: an integer is exact up to 2^53, else the nearest double
    (kept an int when it fits 64 bits, so it prints as JavaScript prints it)."""
    if type(n) is not int or -_MAX_SAFE <= n <= _MAX_SAFE:
        return n
    try:
        f = float(n)
    except OverflowError:  # JavaScript reads it as Infinity, which is not a storable number
        return float("inf") if n > 0 else float("-inf")
    return int(f) if -_INT64 < f < _INT64 else f


def _js_int(text: str) -> int | float:
    return js_number(int(text))


def loads(data: bytes | str) -> Any:
    """Decode client JSON; 107 when it is not JSON or nests deeper than MAX_DEPTH."""
    if isinstance(data, (bytes, bytearray)):
        # As Node reads a body: UTF-8, a bad sequence becoming U+FFFD (never a lone surrogate).
        text = bytes(data).decode("utf-8", "replace").removeprefix("\ufeff")
        raw_surrogates = False
    else:
        text = data
        raw_surrogates = not text.isascii() and _SURROGATE.search(text) is not None
    try:
        # An integer needs reading as JavaScript reads it only past 2^53, i.e. from 16 digits on:
        # without such a run of digits, Python's own (C) integer reading is the same and faster.
        value = json.loads(text, parse_constant=_reject_constant,
                           parse_int=_js_int if _LONG_DIGITS.search(text) else None)
    except RecursionError:
        raise too_deep() from None
    except ValueError as e:
        raise ParseError(ParseError.INVALID_JSON, f"Invalid JSON: {e}") from None
    # Fewer brackets than the bound cannot nest deeper than it (two C-speed counts).
    if text.count("[") + text.count("{") > MAX_DEPTH and exceeds_depth(value):
        raise too_deep()
    if raw_surrogates or ("\\u" in text and _SURROGATE_ESCAPE.search(text)):
        value = _replace_surrogates(value)
    return value


def loads_stored(text: str) -> Any:
    """JSON read back from PostgreSQL, numbers as JavaScript holds them (see `js_number`)."""
    return json.loads(text, parse_int=_js_int)


def exceeds_depth(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep (level by level, without
    recursion, so any depth is safe to ask about)."""
    level = [value] if isinstance(value, (dict, list, tuple)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list, tuple)):
                    deeper.append(child)
        level = deeper
    return False


def _fix(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _replace_surrogates(value: Any) -> Any:
    # Depth is already bounded here, so recursion is safe.
    if isinstance(value, str):
        return _fix(value)
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_fix(k): _replace_surrogates(v) for k, v in value.items()}
    return value
