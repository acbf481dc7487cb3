"""/history/{className}/{objectId} and its restores: HTTP in, one service call
(`core/services/history.py`, `core/services/restore.py`), HTTP out."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import history, restore


async def object_history(rt, req, class_name: str, object_id: str) -> Reply:
    return Reply(raw=await history.object_history(rt, req.caller, class_name, object_id, req.params))


async def restore_object(rt, req, class_name: str, object_id: str) -> Reply:
    return Reply(raw=await restore.restore_object(rt, req.caller, class_name, object_id, req.body))


async def restore_class(rt, req, class_name: str) -> Reply:
    return Reply(await restore.restore_class(rt, req.caller, class_name, req.body))
