"""/history/{className}/{objectId}: HTTP in, one service call (`core/services/history.py`), HTTP out."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import history


async def object_history(rt, req, class_name: str, object_id: str) -> Reply:
    return Reply(raw=await history.object_history(rt, req.caller, class_name, object_id, req.params))
