"""/config: Parse.Config, read by anyone with the app's keys and changed with the master key,
over `core/services/config.py`."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import config


async def get(rt, req) -> Reply:
    return Reply(await config.get(rt, req.caller))


async def update(rt, req) -> Reply:
    return Reply(await config.update(rt, req.caller, req.body))
