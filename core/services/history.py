"""An object's history (GET /history/{className}/{objectId}), as the caller may see it.

The master key sees every version; a client only the versions it could have read when they
stood (their ACL, pointer permissions, the class's `get` permission), protected fields removed
as a live read removes them; an object it could never read answers as a missing one (101).
"""

from __future__ import annotations

from typing import Any

from parsnip.core.errors import ParseError
from parsnip.core.history.entries import encode
from parsnip.core.reads import FindOptions
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.query_options import access_options, int_param, read_options, valid_class

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PARAMS = frozenset({"limit", "after"})


async def object_history(rt: Backend, caller: Caller, class_name: str, object_id: str, params: dict[str, Any]) -> str:
    """`{"results": [entry, ...]}`, oldest first: at most `limit` versions after position `after`."""
    for key in params:
        if key not in _PARAMS:
            raise ParseError(ParseError.INVALID_QUERY, f"Invalid parameter for history: {key}")
    limit = min(max(int_param(params.get("limit"), DEFAULT_LIMIT, "limit"), 0), MAX_LIMIT)
    after = max(int_param(params.get("after"), 0, "after"), 0)
    if not valid_class(class_name):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    opts = FindOptions(**read_options(rt, {}, class_name), **access_options(rt, caller.auth, class_name, "get"))
    found, visible = await rt.read(rt.reads.versions, class_name, object_id, opts, after, limit)
    if not visible:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    return '{"results":[' + ",".join(encode(v, caller.master) for v in found) + "]}"
