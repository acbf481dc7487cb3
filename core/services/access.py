"""The checks a service makes on the caller alone, before anything else: the master key
required, and the read-only master key refused for writes. One place, Parse's answers.

Parse Server refuses a caller without the master key in two ways, by route: its middleware
(schemas, purge, aggregate, serverInfo, scriptlog) answers HTTP 403 `{"error": "Permission
denied"}` (its sanitized "unauthorized: master key is required"), while its REST layer answers
error 119 "Permission denied" (finding or deleting installations).
"""

from __future__ import annotations

from enum import Enum

from parsnip.core.errors import ParseError, Unauthorized
from parsnip.core.security.auth import Auth
from parsnip.core.security.clp import DENIED


class Refusal(Enum):
    """How Parse refuses a caller without the master key on a given route."""

    HTTP_403 = "http-403"  # Parse's middleware: 403 {"error": "Permission denied"}
    FORBIDDEN = "forbidden"  # Parse's REST layer: 400 {"code": 119, "error": "Permission denied"}


def require_master(auth: Auth, refusal: Refusal = Refusal.HTTP_403) -> None:
    """Go on only for the master key (read-only included); otherwise refuse as Parse does."""
    if auth.master:
        return
    if refusal is Refusal.FORBIDDEN:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, DENIED)
    raise Unauthorized(DENIED)


def require_writable(auth: Auth, action: str = "perform the create operation") -> None:
    """The read-only master key reads as the master key and may not write (119)."""
    if auth.read_only:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, f"read-only masterKey isn't allowed to {action}.")
