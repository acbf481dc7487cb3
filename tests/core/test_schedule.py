"""When a `_JobSchedule` runs (`core/cloud/schedule.py`): the slots the Parse Dashboard's
fields describe, and the two questions the scheduler asks of them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from parsnip.core.cloud.schedule import BadSchedule, Schedule

UTC = timezone.utc
EVERY_DAY = [1, 1, 1, 1, 1, 1, 1]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_schedule_without_repeat_runs_once_at_start_after():
    s = Schedule.of({"startAfter": "2026-12-01T10:00:00.000Z", "daysOfWeek": EVERY_DAY})
    assert s.last_slot(at("2026-12-01T09:59:59")) is None
    assert s.last_slot(at("2026-12-01T10:00:00")) == at("2026-12-01T10:00:00")
    assert s.last_slot(at("2026-12-05T00:00:00")) == at("2026-12-01T10:00:00")
    assert s.next_slot(at("2026-12-01T09:00:00")) == at("2026-12-01T10:00:00")
    assert s.next_slot(at("2026-12-01T10:00:00")) is None


def test_a_daily_schedule_runs_at_its_time_of_day_from_start_after():
    s = Schedule.of({"startAfter": "2026-12-01T10:00:00.000Z", "timeOfDay": "09:30:00.000Z",
                     "repeatMinutes": 1440, "daysOfWeek": EVERY_DAY})
    assert s.last_slot(at("2026-12-01T23:00:00")) is None  # 09:30 that day was before startAfter
    assert s.next_slot(at("2026-12-01T11:00:00")) == at("2026-12-02T09:30:00")
    assert s.last_slot(at("2026-12-03T09:29:59")) == at("2026-12-02T09:30:00")
    assert s.last_slot(at("2026-12-03T09:30:00")) == at("2026-12-03T09:30:00")


def test_an_interval_restarts_each_day_at_its_time_of_day():
    s = Schedule.of({"startAfter": "2026-11-01T00:00:00Z", "timeOfDay": "22:00:00.000Z", "repeatMinutes": 45})
    assert s.last_slot(at("2026-12-01T23:59:00")) == at("2026-12-01T23:30:00")
    assert s.next_slot(at("2026-12-01T23:30:00")) == at("2026-12-02T22:00:00")  # not 00:15
    assert s.last_slot(at("2026-12-02T12:00:00")) == at("2026-12-01T23:30:00")


def test_days_of_week_are_sunday_first_as_javascript_counts_them():
    only_sunday = [1, 0, 0, 0, 0, 0, 0]
    s = Schedule.of({"startAfter": "2026-11-01T00:00:00Z", "timeOfDay": "08:00:00.000Z",
                     "repeatMinutes": 1440, "daysOfWeek": only_sunday})
    # 2026-12-01 is a Tuesday; the next Sunday is 2026-12-06, the last one 2026-11-29.
    assert s.next_slot(at("2026-12-01T00:00:00")) == at("2026-12-06T08:00:00")
    assert s.last_slot(at("2026-12-01T00:00:00")) == at("2026-11-29T08:00:00")


def test_no_day_set_means_never():
    s = Schedule.of({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": 60, "daysOfWeek": [0] * 7})
    assert s.last_slot(at("2026-12-01T00:00:00")) is None and s.next_slot(at("2026-12-01T00:00:00")) is None


@pytest.mark.parametrize("fields, complaint", [
    ({"startAfter": "yesterday"}, "startAfter"),
    ({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": -5}, "repeatMinutes"),
    ({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": "5"}, "repeatMinutes"),
    ({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": 5, "timeOfDay": "25:00"}, "timeOfDay"),
    ({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": 5, "timeOfDay": "noon"}, "timeOfDay"),
    ({"startAfter": "2026-11-01T00:00:00Z", "repeatMinutes": 5, "daysOfWeek": [1, 1]}, "daysOfWeek"),
])
def test_a_schedule_that_names_no_time_says_why(fields, complaint):
    with pytest.raises(BadSchedule, match=complaint):
        Schedule.of(fields)


schedules = st.builds(
    lambda start, minutes, hour, minute, days: {
        "startAfter": start.isoformat().replace("+00:00", "Z"), "repeatMinutes": minutes,
        "timeOfDay": f"{hour:02d}:{minute:02d}:00.000Z", "daysOfWeek": days,
    },
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    st.one_of(st.integers(1, 3000), st.floats(0.05, 200)),
    st.integers(0, 23), st.integers(0, 59),
    st.lists(st.integers(0, 1), min_size=7, max_size=7),
)
moments = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(schedules, moments)
def test_the_last_and_next_slots_bracket_any_moment(fields, moment):
    """No slot lies strictly between last_slot(t) and next_slot(t), and both are slots."""
    s = Schedule.of(fields)
    last, following = s.last_slot(moment), s.next_slot(moment)
    if last is not None:
        assert s.start <= last <= moment
        assert s.next_slot(last - timedelta(microseconds=1)) == last  # it is a slot
        assert s.next_slot(last) == following  # nothing between it and the next
    if following is not None:
        assert following > moment and following >= s.start
        assert s.last_slot(following) == following
        assert s.last_slot(following - timedelta(microseconds=1)) == last
