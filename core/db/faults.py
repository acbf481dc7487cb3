"""Which failures mean "PostgreSQL cannot be reached" rather than "this statement is wrong".

The line matters twice: such a failure becomes a retryable 503 (`DatabaseUnavailable`), never a
500; and a failure of COMMIT itself leaves the transaction's outcome unknown unless the server
answered it with an ordinary error (`server_refused`).
"""

from __future__ import annotations

import asyncpg

from parsnip.core.errors import DatabaseUnavailable

# SQLSTATE classes and codes that say the server or the connection is going or gone:
# 08 connection exceptions, 57P01-57P03 shutdown / crash / not accepting connections yet,
# 53300 too many connections.
_CODES = {"57P01", "57P02", "57P03", "53300"}


def unavailable(e: BaseException) -> bool:
    """Whether `e` says the database could not be reached or the connection died."""
    if isinstance(e, DatabaseUnavailable):
        return True
    if isinstance(e, (OSError, asyncpg.PostgresConnectionError)):  # refused, reset, timed out
        return True
    if isinstance(e, asyncpg.exceptions.InternalClientError):
        # The connection's protocol state is broken, e.g. a query sent on a connection that has
        # just received the server's FATAL "terminating connection" while idle.
        return True
    if isinstance(e, asyncpg.PostgresError):
        return getattr(e, "sqlstate", None) in _CODES or getattr(e, "severity_en", None) in ("FATAL", "PANIC")
    if isinstance(e, asyncpg.InterfaceError):
        text = str(e)
        return "connection is closed" in text or "underlying connection is closed" in text or "pool is clos" in text
    return False


def server_refused(e: BaseException) -> bool:
    """Whether the server itself answered with an ordinary error (the transaction rolled back)."""
    return isinstance(e, asyncpg.PostgresError) and not unavailable(e)
