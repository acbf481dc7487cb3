"""`accountLockout`: after `threshold` failed logins a user is locked out for `duration`
minutes, even with the right password.

The failure count is an Increment applied by the writer under the user's row lock, so
concurrent failed attempts are all counted; whichever attempt sees the count reach the
threshold sets the lockout's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from parsnip.core.errors import ParseError
from parsnip.core.operations import Op
from parsnip.core.values import date_value, parse_iso

COUNT = "_failed_login_count"
UNTIL = "_account_lockout_expires_at"


@dataclass(frozen=True, slots=True)
class Lockout:
    duration_minutes: float
    threshold: int
    unlock_on_password_reset: bool = False

    @classmethod
    def from_option(cls, option: Mapping[str, Any] | None) -> "Lockout | None":
        """The policy `accountLockout` describes, or None when there is none."""
        if not option:
            return None
        return cls(duration_minutes=option["duration"], threshold=int(option["threshold"]),
                   unlock_on_password_reset=option.get("unlockOnPasswordReset") is True)

    def locked(self, user: Mapping[str, Any], now: datetime) -> bool:
        """Whether the stored user is locked out at `now`."""
        until = _date(user.get(UNTIL))
        return until is not None and until > now and (user.get(COUNT) or 0) >= self.threshold

    def error(self) -> ParseError:
        minutes = self.duration_minutes
        shown = int(minutes) if float(minutes).is_integer() else minutes
        return ParseError(ParseError.OBJECT_NOT_FOUND,
                          "Your account is locked due to multiple failed login attempts. "
                          f"Please try again after {shown} minute(s)")

    def reached(self, count: Any) -> bool:
        return isinstance(count, (int, float)) and count >= self.threshold

    def lock_ops(self, now: datetime) -> dict[str, Op]:
        return {UNTIL: Op("Set", date_value(now + timedelta(minutes=self.duration_minutes)))}


FAILED_OPS = {COUNT: Op("Increment", 1)}
RESET_OPS = {COUNT: Op("Set", 0)}
UNLOCK_OPS = {COUNT: Op("Delete"), UNTIL: Op("Delete")}


def _date(value: Any) -> datetime | None:
    if isinstance(value, dict) and value.get("__type") == "Date" and isinstance(value.get("iso"), str):
        return parse_iso(value["iso"])
    return None
