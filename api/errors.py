"""Where domain errors become HTTP: the one mapping from Parse codes to statuses, and the one
log record of a request that failed unexpectedly."""

from __future__ import annotations

import logging
import uuid
from typing import Mapping

from parsnip.core.errors import DatabaseUnavailable, ParseError
from parsnip.core.logcontext import REQUEST_ID

logger = logging.getLogger("parsnip.api")


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


def request_id(headers: Mapping[str, str]) -> str:
    """The request's id for the log line: the one `api/observe.py` gave the request (so the
    failure's record and the request's other records agree), else the client's
    X-Parse-Request-Id, else a fresh one."""
    current = REQUEST_ID.get()
    if current:
        return current
    given = headers.get("X-Parse-Request-Id")
    return given[:200] if given else uuid.uuid4().hex


def log_failure(err: BaseException, method: str, route: str, rid: str) -> None:
    """The one log record of a request that failed unexpectedly: route and request id first,
    the traceback attached (one line in JSON logs)."""
    logger.error("request failed: %s %r request_id=%r: %s: %s", method, route[:500], rid, type(err).__name__,
                 str(err)[:500], exc_info=err, extra={"request_id": rid, "route": route[:500]})
