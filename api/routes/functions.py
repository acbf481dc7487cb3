"""POST /functions/{name}: a cloud function call (`core/services/functions.py`), with the
caller's context from X-Parse-Cloud-Context or the JS SDK's `_context`."""

from __future__ import annotations

import json
from typing import Any

from parsnip.api.routes import Reply
from parsnip.core.errors import ParseError
from parsnip.core.services import functions


async def call(rt, req, function_name: str) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    params = {**body, **req.params}  # the query string wins, as in Parse's Object.assign
    result = await functions.run(rt, req.caller, function_name, params,
                                 context=cloud_context(req.cloud_context), headers=req.headers)
    return Reply({} if result is None else {"result": result})


def cloud_context(given: Any) -> dict:
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
