"""The context a client hands Cloud Code (`X-Parse-Cloud-Context`, or `_context` in the JS SDK's
body form): read once per request, it reaches `req.context` of the functions and triggers the
request runs, one dict from a before_save to its after_save."""

from __future__ import annotations

import json
from typing import Any

from parsnip.core.errors import ParseError


def client_context(given: Any) -> dict:
    """The context a client sent: an object, or JSON text of one; 107 otherwise (Parse's
    "Invalid object for context.")."""
    if given is None or given == "":
        return {}
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            given = None
    if not isinstance(given, dict):
        raise ParseError(ParseError.INVALID_JSON, "Invalid object for context.")
    return given
