"""POST /functions/{name}: a cloud function call (`core/services/functions.py`), with the
caller's context from X-Parse-Cloud-Context or the JS SDK's `_context` (read by api/request.py)."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import functions


async def call(rt, req, function_name: str) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    params = {**body, **req.params}  # the query string wins, as in Parse's Object.assign
    result = await functions.run(rt, req.caller, function_name, params,
                                 context=req.cloud_context if req.cloud_context is not None else {}, headers=req.headers)
    return Reply({} if result is None else {"result": result})

