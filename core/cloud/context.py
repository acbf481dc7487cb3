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


# The key in a write's notes that carries `req.context` from its before hooks to its after hooks.
_NOTES_KEY = "cloud_context"


def trigger_context(pipeline_req: Any) -> dict:
    """A trigger's `req.context` (Python or webhook): the client's, or a new dict, the same one
    from the before hooks to the after hooks of one write or find."""
    given = getattr(pipeline_req, "cloud_context", None)
    notes = getattr(pipeline_req, "notes", None)
    if notes is not None:  # a write: the before hooks hand it on in the notes
        return notes.setdefault(_NOTES_KEY, given if given is not None else {})
    if given is None:
        given = {}
        pipeline_req.cloud_context = given  # a find: before_find's reaches after_find
    return given
