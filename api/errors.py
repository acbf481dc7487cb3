"""Where domain errors become HTTP: the one mapping from Parse codes to statuses, and the one
log record of a request that failed unexpectedly."""

from __future__ import annotations

import logging
import uuid
from typing import Mapping

from parsnip.core.errors import DatabaseUnavailable, ParseError, Unauthorized
from parsnip.core.logcontext import REQUEST_ID

__all__ = ["INTERNAL", "Unauthorized", "error_json", "log_failure", "request_id", "status_for"]

logger = logging.getLogger("parsnip.api")


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


# What a client gets for a failure nobody foresaw: Parse's "internal" error, never a traceback.
INTERNAL = {"code": ParseError.INTERNAL_SERVER_ERROR, "error": "Internal server error."}


def error_json(err: BaseException, method: str, route: str, rid: str) -> dict:
    """A failure as a Parse error body, for answers that carry several (a batch's entries): a
    ParseError as itself, a refused caller as Parse's batch gives its 403 (the message, no
    code), anything else as INTERNAL, logged once."""
    if isinstance(err, ParseError):
        return err.to_json()
    if isinstance(err, Unauthorized):
        return {"error": err.message}
    log_failure(err, method, route, rid)
    return dict(INTERNAL)
