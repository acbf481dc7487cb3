"""Calling a user's handler: `async def` handlers are awaited; a plain `def` runs in a worker
thread, so blocking user code never stops the trio loop."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import trio


async def call_handler(handler: Callable[[Any], Any], req: Any) -> Any:
    """What `handler(req)` returns, awaited if it is awaitable."""
    if inspect.iscoroutinefunction(handler):
        return await handler(req)
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        return await result
    return result
