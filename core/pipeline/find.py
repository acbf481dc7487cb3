"""The read pipeline: the parsed query (the caller's) -> before-find hooks, which may change it
-> plan and run (the projections' reader, handed in as `execute`) -> after-find hooks, which
may change the results. Called only for a class with find hooks (`Hooks.on_read`): results
are decoded for after-find hooks only, and encoded back as the reader gives them.

A before-find hook may answer the find itself (`FindRequest.answered`), as Parse's beforeFind
returning objects does: for a caller without the master key, the stored ones among them are
read again with the caller's query options, so no hook hands out what the caller may not see.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable

from parsnip.core.query.ast import parse_where
from parsnip.core.pipeline.hooks import AFTER_FIND, BEFORE_FIND, Hooks, run_hook
from parsnip.core.pipeline.requests import FindRequest

Execute = Callable[[Any], Awaitable[tuple[list[str], Any]]]


async def run(hooks: Hooks, req: FindRequest, execute: Execute, *, decode: bool = True) -> tuple[list[str], Any]:
    """(results as JSON texts, what the reader gave with them: a count or None)."""
    for hook in hooks.of(BEFORE_FIND, req.class_name):
        await run_hook(hook, req)
    if req.answered is None:
        texts, extra = await execute(req.query)
    else:
        texts, extra = await _answered(req, execute)
    after = hooks.of(AFTER_FIND, req.class_name)
    if not after or not decode:
        return texts, extra
    req.objects = [json.loads(t) for t in texts]
    for hook in after:
        await run_hook(hook, req)
    return [json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in req.objects], extra


async def _answered(req: FindRequest, execute: Execute) -> tuple[list[str], Any]:
    """The objects a before-find hook answered with, as the caller may see them."""
    given = [o for o in req.answered or () if isinstance(o, dict)]
    ids = [o["objectId"] for o in given if isinstance(o.get("objectId"), str)]
    if req.auth.master or not ids:
        texts = [json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in given]
        return texts, (len(texts) if getattr(req.query, "count", False) else None)
    again = dataclasses.replace(req.query, where=parse_where({"objectId": {"$in": ids}}), skip=0)
    return await execute(again)
