"""When a `_JobSchedule` runs, as the Parse Dashboard writes one: `startAfter` (ISO time),
`timeOfDay` ("HH:MM:SS.000Z", UTC), `daysOfWeek` (seven flags, Sunday first, as JavaScript's
`getUTCDay`), `repeatMinutes`. All in UTC.

- Without `repeatMinutes` (or 0): one slot, at `startAfter`.
- With it: on each day whose flag is set (every day when `daysOfWeek` is missing), slots at
  `timeOfDay` (midnight when missing) and every `repeatMinutes` after it within that day;
  only slots at or after `startAfter` count. `repeatMinutes` may be fractional.

A schedule that cannot be read raises `BadSchedule`, saying why."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from parsnip.core.errors import ParseError
from parsnip.core.values import parse_iso

DAY = timedelta(days=1)
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?Z?")


class BadSchedule(ValueError):
    """A `_JobSchedule` whose fields name no time to run."""


@dataclass(frozen=True)
class Schedule:
    """A schedule's times: `repeat` None means the one slot at `start`."""

    start: datetime
    repeat: timedelta | None = None
    time_of_day: timedelta = timedelta(0)
    days: frozenset[int] = frozenset(range(7))  # Python weekdays, Monday 0

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> "Schedule":
        """The schedule a `_JobSchedule` object's fields describe."""
        start = _start_after(fields.get("startAfter"), fields.get("createdAt"))
        minutes = fields.get("repeatMinutes")
        if minutes is None or minutes == 0:
            return cls(start)
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes) \
                or minutes < 0:
            raise BadSchedule(f"repeatMinutes must be a positive number, not {minutes!r}")
        repeat = timedelta(minutes=minutes)
        if repeat < timedelta(milliseconds=100):
            raise BadSchedule(f"repeatMinutes {minutes!r} is too short")
        return cls(start, repeat, _time_of_day(fields.get("timeOfDay")), _days(fields.get("daysOfWeek")))

    def last_slot(self, at: datetime) -> datetime | None:
        """The latest slot at or before `at`, or None when there is none yet."""
        if self.repeat is None:
            return self.start if self.start <= at else None
        day = _midnight(at)
        for back in range(8):  # today, then the days before it: a week holds a set flag
            d = day - back * DAY
            if d.weekday() not in self.days:
                continue
            first = d + self.time_of_day
            if first > at:
                continue
            end = min(at, d + DAY - timedelta(microseconds=1))
            slot = first + self.repeat * math.floor((end - first) / self.repeat)
            return slot if slot >= self.start else None
        return None

    def next_slot(self, after: datetime) -> datetime | None:
        """The first slot strictly after `after` (and at or after `start`), or None: no more."""
        after = max(after, self.start - timedelta(microseconds=1))
        if self.repeat is None:
            return self.start if self.start > after else None
        day = _midnight(after)
        for ahead in range(8):
            d = day + ahead * DAY
            if d.weekday() not in self.days:
                continue
            first = d + self.time_of_day
            if first > after:
                return first
            slot = first + self.repeat * (math.floor((after - first) / self.repeat) + 1)
            if slot < d + DAY:
                return slot
        return None


def _start_after(value: Any, created: Any) -> datetime:
    text = value if value not in (None, "") else created
    if isinstance(text, dict) and text.get("__type") == "Date":
        text = text.get("iso")
    if not isinstance(text, str):
        raise BadSchedule(f"startAfter must be an ISO time, not {value!r}")
    try:
        return parse_iso(text)
    except ParseError:
        raise BadSchedule(f"startAfter must be an ISO time, not {value!r}") from None


def _time_of_day(value: Any) -> timedelta:
    if value in (None, ""):
        return timedelta(0)
    found = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise BadSchedule(f'timeOfDay must be "HH:MM:SS" (UTC), not {value!r}')
    hours, minutes, seconds = int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise BadSchedule(f"timeOfDay {value!r} is not a time of day")
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _days(value: Any) -> frozenset[int]:
    """Seven flags, Sunday first (JavaScript), as Python weekdays (Monday 0)."""
    if value is None or value == []:
        return frozenset(range(7))
    if not isinstance(value, list) or len(value) != 7:
        raise BadSchedule(f"daysOfWeek must be seven flags, Sunday first, not {value!r}")
    return frozenset((js - 1) % 7 for js, flag in enumerate(value) if flag and flag != "0")


def _midnight(at: datetime) -> datetime:
    at = at.astimezone(timezone.utc)
    return datetime(at.year, at.month, at.day, tzinfo=timezone.utc)
