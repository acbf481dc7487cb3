"""Where domain errors become HTTP: the one mapping from Parse codes to statuses."""

from __future__ import annotations

from core.errors import DatabaseUnavailable, ParseError


class Unauthorized(Exception):
    """Missing or wrong application id or client key: 403 `{"error": "unauthorized"}`."""

    def __init__(self, message: str = "unauthorized", status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def status_for(err: ParseError) -> int:
    """Parse Server's statuses: 404 for a missing object, 500 for internal errors, else 400;
    503 when the database is unreachable and nothing was written (the SDKs retry 5xx)."""
    if isinstance(err, DatabaseUnavailable):
        return 503
    if err.code == ParseError.OBJECT_NOT_FOUND:
        return 404
    if err.code == ParseError.INTERNAL_SERVER_ERROR:
        return 500
    return 400
