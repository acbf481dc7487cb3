"""One error type for the whole domain: a Parse error code and a message.

Raised in the domain and carried unchanged through every surface (REST, batch, LiveQuery);
the HTTP status for each code is chosen in one place, `api/errors.py: status_for`.
"""

from __future__ import annotations


class ParseError(Exception):
    """A failure a Parse client understands: `{"code": code, "error": message}`."""

    # Codes, named as in the Parse SDKs (Parse.Error.*).
    OTHER_CAUSE = -1
    INTERNAL_SERVER_ERROR = 1
    CONNECTION_FAILED = 100
    OBJECT_NOT_FOUND = 101
    INVALID_QUERY = 102
    INVALID_CLASS_NAME = 103
    MISSING_OBJECT_ID = 104
    INVALID_KEY_NAME = 105
    INVALID_POINTER = 106
    INVALID_JSON = 107
    COMMAND_UNAVAILABLE = 108
    NOT_INITIALIZED = 109
    INCORRECT_TYPE = 111
    INVALID_CHANNEL_NAME = 112
    PUSH_MISCONFIGURED = 115
    OBJECT_TOO_LARGE = 116
    OPERATION_FORBIDDEN = 119
    CACHE_MISS = 120
    INVALID_NESTED_KEY = 121
    INVALID_FILE_NAME = 122
    INVALID_ACL = 123
    TIMEOUT = 124
    INVALID_EMAIL_ADDRESS = 125
    MISSING_REQUIRED_FIELD = 135
    DUPLICATE_VALUE = 137
    INVALID_ROLE_NAME = 139
    EXCEEDED_QUOTA = 140
    FILE_SAVE_ERROR = 130
    SCRIPT_FAILED = 141
    VALIDATION_ERROR = 142
    FILE_DELETE_ERROR = 153
    REQUEST_LIMIT_EXCEEDED = 155
    INVALID_VALUE = 162
    USERNAME_MISSING = 200
    PASSWORD_MISSING = 201
    USERNAME_TAKEN = 202
    EMAIL_TAKEN = 203
    EMAIL_MISSING = 204
    EMAIL_NOT_FOUND = 205
    SESSION_MISSING = 206
    MUST_CREATE_USER_THROUGH_SIGNUP = 207
    ACCOUNT_ALREADY_LINKED = 208
    INVALID_SESSION_TOKEN = 209
    MFA_ERROR = 210
    MFA_TOKEN_REQUIRED = 211
    LINKED_ID_MISSING = 250
    INVALID_LINKED_SESSION = 251
    UNSUPPORTED_SERVICE = 252
    INVALID_SCHEMA_OPERATION = 255

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict:
        return {"code": self.code, "error": self.message}

    def __repr__(self) -> str:
        return f"ParseError({self.code}, {self.message!r})"


class ConflictError(Exception):
    """A write lost a race it can retry (serialization failure or deadlock across nodes)."""


class DatabaseUnavailable(ParseError):
    """PostgreSQL cannot be reached, and the request certainly changed nothing: safe to retry.

    Answered 503 (api/errors.py), which the Parse SDKs retry with backoff."""

    def __init__(self, message: str = "The database is unavailable; try again shortly.") -> None:
        super().__init__(ParseError.CONNECTION_FAILED, message)


class OutcomeUnknown(ParseError):
    """The connection was lost after COMMIT was sent and the database did not come back in time
    to say whether it committed. Never answered 5xx: an SDK would resend the write."""

    def __init__(self, message: str = ("The database connection was lost while the write was committing: "
                                       "it may or may not have been saved. Read it back before retrying.")) -> None:
        super().__init__(ParseError.TIMEOUT, message)


class Unauthorized(Exception):
    """A request refused before it is served (a missing or wrong application id or client key,
    or the master key required): Parse answers it outside its error codes, as HTTP 403
    `{"error": message}` (`api/errors.py`), and in a batch as the sub-request's `{"error": message}`."""

    def __init__(self, message: str = "unauthorized", status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
