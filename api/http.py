"""A request and its answer as the dispatcher (`api/dispatch.py`) sees them, whatever carried
them: Quart on hypercorn (`api/app.py`), or the listener's own HTTP/1.1 path (`api/fastpath.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Mapping
from urllib.parse import parse_qsl


class Headers(dict):
    """Request headers under lower-case names, looked up whatever the case asked (as werkzeug's
    `Headers`). A name sent twice keeps its first value."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for name, value in pairs:
            self.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


def query_args(query: str) -> dict[str, str]:
    """The query string's parameters, the first value of a repeated one, decoded as werkzeug
    decodes `request.args` (blank values kept, bytes that are not UTF-8 left percent-encoded)."""
    import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" error handler)

    args: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"):
        args.setdefault(name, value)
    return args


class WholeBody:
    """A body already read in full (the fast path reads it before dispatching): `read_body`
    takes it as it is, without the timeouts a body still arriving is read under."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def take(self) -> bytes:
        """The body, once; empty after."""
        data, self._data = self._data or b"", None
        return data

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        return self.take()


@dataclass(slots=True)
class HttpRequest:
    """One request: `path` is the full path, percent-decoded (mount path included), `raw_path`
    the path as sent; `body` yields the body's chunks; `flow` is an upload's back-pressure."""

    method: str
    path: str
    raw_path: bytes | None
    args: Mapping[str, str]
    headers: Mapping[str, str]
    remote_addr: str | None
    body: AsyncIterator[bytes]
    flow: Any = None


@dataclass(slots=True)
class HttpResponse:
    """One answer: its whole `body`, or a `stream` sent as it comes (then `body` is unused)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None
    stream: AsyncIterator[bytes] | None = None
