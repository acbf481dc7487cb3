"""Route handlers, one module per Parse resource. Each handler takes (runtime, request, **path params)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from parsnip.api.request import off_loop
from parsnip.core.errors import ParseError

T = TypeVar("T")


@dataclass
class Reply:
    """A handler's answer. `body` is a JSON-able value, or `raw` is JSON text made elsewhere."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    content_type: str | None = None  # None: JSON

    def encode(self) -> bytes:
        try:
            if self.raw is not None:
                return self.raw.encode()
            return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:
            # A lone surrogate (a client's text quoted in a message): JSON escapes it, as
            # JavaScript's JSON.stringify does, rather than failing the answer.
            if self.raw is not None:
                return self.raw.encode("utf-8", "backslashreplace")
            return json.dumps(self.body, separators=(",", ":")).encode()


Handler = Callable[..., Awaitable[Reply]]
Route = tuple[str, re.Pattern, Handler]


def compile_routes(spec: Sequence[tuple[str, str, Handler]]) -> list[Route]:
    """(method, pattern, handler) with each pattern anchored and a trailing slash allowed."""
    return [(method, re.compile(f"^{pattern}/?\\Z"), handler) for method, pattern, handler in spec]


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The first route for (method, path), with the path's named parts."""
    for m, pattern, handler in routes:
        if m == method:
            found = pattern.match(path)
            if found:
                return handler, found.groupdict()
    return None


def check_object_id(object_id: str | None) -> None:
    """An objectId holding NUL names no object (PostgreSQL text cannot hold one): 101 before
    anything reads it."""
    if object_id is not None and "\x00" in object_id:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")


async def checked(req: Any, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`: reading a body into a command, in a worker thread when the body is large
    (`ParseRequest.large_body`), so that checking 20 MB of fields never stops the trio loop."""
    if req.large_body:
        return await off_loop(fn, *args)
    return fn(*args)
