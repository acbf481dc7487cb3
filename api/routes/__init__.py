"""Route handlers: thin adapters from HTTP to one service call each (`core/services/`). Each
handler takes (runtime, request, **path params) and returns a `Reply`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

from parsnip.core.errors import ParseError

@dataclass
class Reply:
    """A handler's answer. `body` is a JSON-able value, or `raw` is JSON text made elsewhere."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    content_type: str | None = None  # None: JSON
    stream: AsyncIterator[bytes] | None = None  # a body sent as it comes (server-sent events), not `body`

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

_PARAM = re.compile(r":([A-Za-z]+)")


@dataclass(frozen=True)
class Route:
    """One route: its method, its template as Parse writes it (`/classes/:className`, also the
    metrics' route label), the pattern compiled from it, and its handler."""

    method: str
    template: str
    pattern: re.Pattern
    handler: Handler


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def compile_routes(spec: Sequence[tuple[str, str, Handler]], constraints: dict[str, str] | None = None) -> list[Route]:
    """(method, template, handler) with each template's `:name` a path segment (or what
    `constraints[name]` allows), passed to the handler as `snake_name`; anchored, and a
    trailing slash allowed."""
    constraints = constraints or {}

    def pattern(template: str) -> re.Pattern:
        parts = _PARAM.split(template)  # literal, name, literal, name, ...
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{_snake(part)}>{constraints.get(part, '[^/]+')})"
                        for i, part in enumerate(parts))
        return re.compile(f"^{regex}/?\\Z")

    return [Route(method, template, pattern(template), handler) for method, template, handler in spec]


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The first route for (method, path), with the path's named parts."""
    for route in routes:
        if route.method == method:
            found = route.pattern.match(path)
            if found:
                return route.handler, found.groupdict()
    return None


def check_object_id(object_id: str | None) -> None:
    """An objectId holding NUL names no object (PostgreSQL text cannot hold one): 101 before
    anything reads it."""
    if object_id is not None and "\x00" in object_id:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
