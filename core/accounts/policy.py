"""`passwordPolicy`: what a new password must satisfy (pattern, not the username, not a recent
one), when a password expires, and how long a reset link lives.

Checks that compare against bcrypt hashes are slow on purpose; callers run `reused` in a
worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from parsnip.core.accounts import passwords
from parsnip.core.errors import ParseError

DEFAULT_ERROR = "Password does not meet the Password Policy requirements."
CONTAINS_USERNAME = "Password cannot contain your username."
EXPIRED = "Your password has expired. Please reset your password."


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    pattern: re.Pattern | None = None
    do_not_allow_username: bool = False
    max_age_days: float | None = None
    max_history: int = 0
    reset_token_seconds: int | None = None
    validation_error: str = DEFAULT_ERROR

    @classmethod
    def from_option(cls, option: Mapping[str, Any] | None) -> "PasswordPolicy | None":
        """The policy `passwordPolicy` describes, or None when there is none."""
        if not option:
            return None
        pattern = option.get("validatorPattern")
        return cls(
            pattern=re.compile(pattern) if isinstance(pattern, str) and pattern else None,
            do_not_allow_username=option.get("doNotAllowUsername") is True,
            max_age_days=option.get("maxPasswordAge") or None,
            max_history=int(option.get("maxPasswordHistory") or 0),
            reset_token_seconds=option.get("resetTokenValidityDuration") or None,
            validation_error=option.get("validationError") or DEFAULT_ERROR,
        )

    def check(self, password: str, username: str | None) -> None:
        """142 when the password fails the pattern or contains the username."""
        if self.pattern is not None and not self.pattern.search(password):
            raise ParseError(ParseError.VALIDATION_ERROR, self.validation_error)
        if self.do_not_allow_username and username and username in password:
            raise ParseError(ParseError.VALIDATION_ERROR, CONTAINS_USERNAME)

    def reused(self, password: str, current_hash: str | None, history: list[str] | None) -> bool:
        """Whether `password` is the current one or one of the last `max_history - 1` before it."""
        if not self.max_history:
            return False
        recent = list(history or [])[-(self.max_history - 1):] if self.max_history > 1 else []
        hashes = [h for h in [*recent, current_hash] if h]
        return any(passwords.verify(password, h) for h in hashes)

    def reuse_error(self) -> ParseError:
        return ParseError(ParseError.VALIDATION_ERROR,
                          f"New password should not be the same as last {self.max_history} passwords.")

    def next_history(self, current_hash: str | None, history: list[str] | None) -> list[str]:
        """The history after a change: the replaced hash appended, at most `max_history - 1` kept."""
        kept = [*(history or []), *([current_hash] if current_hash else [])]
        return kept[-(self.max_history - 1):] if self.max_history > 1 else []

    def expired(self, changed_at: datetime | None, now: datetime) -> bool:
        return (self.max_age_days is not None and changed_at is not None
                and changed_at + timedelta(days=self.max_age_days) < now)
