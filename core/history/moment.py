"""A moment to read the data as of (`asOf`, `X-Parse-As-Of`): a log position, or a Parse date
that stands for the last position whose event happened at or before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from parsnip.core.errors import ParseError
from parsnip.core.values import parse_iso

_MAX_POSITION = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Moment:
    """Either a log position or a date (exactly one is set)."""

    position: int | None = None
    at: datetime | None = None

    def position_sql(self, add: Callable[[Any, str], str]) -> str:
        """The moment as a SQL bigint: the position itself, or the last position at or before
        the date (0 before the first event), found through the log's index on `at`."""
        if self.position is not None:
            return add(self.position, "::bigint")
        return ("(SELECT COALESCE((SELECT position FROM parsnip_events WHERE at <= "
                f"{add(self.at, '::timestamptz')} ORDER BY at DESC, position DESC LIMIT 1), 0))")


def parse_moment(value: Any) -> Moment | None:
    """`asOf` as a client sends it: an integer position (a JSON number or digits), an ISO 8601
    date, or a Parse Date object; None when absent. Anything else is 102."""
    if value is None or value == "":
        return None
    if isinstance(value, dict) and value.get("__type") == "Date":
        value = value.get("iso")
    if isinstance(value, bool):
        _invalid(value)
    if isinstance(value, int):
        return _position(value)
    if isinstance(value, float) and value.is_integer():
        return _position(int(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _position(int(text))
        try:
            return Moment(at=parse_iso(text))
        except ParseError:
            pass
    _invalid(value)


def _position(n: int) -> Moment:
    if n < 0 or n > _MAX_POSITION:
        _invalid(n)
    return Moment(position=n)


def _invalid(value: Any) -> None:
    raise ParseError(ParseError.INVALID_QUERY,
                     f"asOf must be a date (ISO 8601) or a log position (an integer), not {str(value)[:100]!r}")
