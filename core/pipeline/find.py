"""The read pipeline: the parsed query (the caller's) -> before-find hooks, which may change it
-> plan and run (the projections' reader, handed in as `execute`) -> after-find hooks, which
may change the results. Called only for a class with find hooks (`Hooks.on_read`): results
are decoded for after-find hooks only, and encoded back as the reader gives them.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from parsnip.core.pipeline.hooks import AFTER_FIND, BEFORE_FIND, Hooks, run_hook
from parsnip.core.pipeline.requests import FindRequest

Execute = Callable[[Any], Awaitable[tuple[list[str], Any]]]


async def run(hooks: Hooks, req: FindRequest, execute: Execute, *, decode: bool = True) -> tuple[list[str], Any]:
    """(results as JSON texts, what the reader gave with them: a count or None)."""
    for hook in hooks.of(BEFORE_FIND, req.class_name):
        await run_hook(hook, req)
    texts, extra = await execute(req.query)
    after = hooks.of(AFTER_FIND, req.class_name)
    if not after or not decode:
        return texts, extra
    req.objects = [json.loads(t) for t in texts]
    for hook in after:
        await run_hook(hook, req)
    return [json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in req.objects], extra
