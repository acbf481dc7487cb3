"""What a client gets when user code fails, one rule for functions, triggers and LiveQuery
hooks (Parse's `resolveError`): a `ParseError` keeps its code and message; any other exception
becomes 141 (SCRIPT_FAILED) with its text, or the caller's default text when it has none."""

from __future__ import annotations

from parsnip.core.errors import ParseError

FUNCTION_FAILED = "Script failed."  # Parse's default for functions and LiveQuery hooks
TRIGGER_FAILED = "Script failed. Unknown error."  # ... and for object and query triggers

# Parse.com's answer when triggers keep saving into triggers (Parsnip stops at a fixed depth).
RECURSION_MESSAGE = "Too many recursive calls into Cloud Code"


def script_failed(error: BaseException, default: str = FUNCTION_FAILED) -> ParseError:
    """The Parse error a client is answered with for `error`, raised by user code."""
    if isinstance(error, ParseError):
        return error
    return ParseError(ParseError.SCRIPT_FAILED, str(error) or default)


def too_deep() -> ParseError:
    """The error of a trigger entered past the recursion limit (Parse.com's 124)."""
    return ParseError(ParseError.TIMEOUT, RECURSION_MESSAGE)
