"""Calling a user's handler: `async def` handlers are awaited; a plain `def` runs in a worker
thread, so blocking user code never stops the trio loop."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import trio


async def call_handler(handler: Callable[..., Any], *args: Any) -> Any:
    """What `handler(*args)` returns, awaited if it is awaitable."""
    if inspect.iscoroutinefunction(handler):
        return await handler(*args)
    result = await trio.to_thread.run_sync(handler, *args)
    if inspect.isawaitable(result):
        return await result
    return result
