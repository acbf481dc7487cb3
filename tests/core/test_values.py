"""Dates as Parse writes them: `iso` must give what JavaScript's toISOString gives (the SDKs
compare and parse these strings), and `parse_iso` must read it back."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from parsnip.core.values import iso, parse_iso

_OFFSETS = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])


def _to_iso_string(t: datetime) -> str:
    """JavaScript's Date.prototype.toISOString for a year 0-9999, written out field by field."""
    u = t.astimezone(timezone.utc)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
            f".{u.microsecond // 1000:03d}Z")


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_OFFSETS))
def test_iso_is_javascripts_to_iso_string_and_reads_back(t: datetime) -> None:
    text = iso(t)
    assert text == _to_iso_string(t)
    back = parse_iso(text)
    assert back == t.replace(microsecond=t.microsecond - t.microsecond % 1000)


def test_a_year_below_1000_keeps_four_digits() -> None:
    assert iso(datetime(712, 5, 23, 19, 28, 8, 739558, tzinfo=timezone.utc)) == "0712-05-23T19:28:08.739Z"
