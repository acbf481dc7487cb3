"""GET /aggregate/{className}: `distinct` and `pipeline` (`core/services/aggregate.py`)."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import aggregate as service


async def aggregate(rt, req, class_name: str) -> Reply:
    texts = await service.aggregate(rt, req.caller, class_name, req.params)
    return Reply(raw='{"results":[' + ",".join(texts) + "]}")
