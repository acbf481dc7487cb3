"""GET /changes: the change feed (`core/services/changes.py`) as one JSON page, or, asked with
`Accept: text/event-stream`, as server-sent events: `id:` the position, `data:` the entry on
one line; the backlog, then each change as it commits; a comment every KEEP_ALIVE seconds
without one, so proxies keep the connection open. `Last-Event-ID` resumes after that position."""

from __future__ import annotations

from typing import AsyncIterator

from parsnip.api.routes import Reply
from parsnip.core.services import changes

KEEP_ALIVE = 15.0
_SSE = "text/event-stream"
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffers it (nginx)


async def feed(rt, req) -> Reply:
    if _SSE not in req.headers.get("Accept", ""):
        return Reply(raw=await changes.page(rt, req.caller, req.params))
    batches = changes.stream(rt, req.caller, req.params, req.headers.get("Last-Event-ID"), KEEP_ALIVE)
    return Reply(headers=_HEADERS, content_type=_SSE + "; charset=utf-8", stream=_events(batches))


async def _events(batches: AsyncIterator[list[tuple[int, str]]]) -> AsyncIterator[bytes]:
    async for batch in batches:
        if not batch:
            yield b": keep-alive\n\n"
            continue
        yield "".join(f"id: {position}\ndata: {entry}\n\n" for position, entry in batch).encode(
            "utf-8", "backslashreplace")
