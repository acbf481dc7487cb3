"""The log's integrity: GET /history/verify, GET /history/head, POST /history/{className}/{objectId}/erase
(`core/services/integrity.py`)."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import integrity


async def verify(rt, req) -> Reply:
    return Reply(await integrity.verify(rt, req.caller))


async def head(rt, req) -> Reply:
    return Reply(await integrity.head(rt, req.caller))


async def erase(rt, req, class_name: str, object_id: str) -> Reply:
    return Reply(await integrity.erase(rt, req.caller, class_name, object_id, req.body))
