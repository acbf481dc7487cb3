"""The dispatcher: one request in (`api/http.py: HttpRequest`), one answer out, over any transport.

Parse's own routing is simple, and the JS SDK can turn any POST into a GET, PUT or DELETE
through `_method` in its body, so the method is only known after the body is read. Hence one
entry point: read and authenticate the request, then dispatch on (method, path). Quart's
catch-all route (`api/app.py`) and the listener's own HTTP/1.1 path (`api/fastpath.py`) both
call it, so no rule of Parse's is written twice.
"""

from __future__ import annotations

import re
from typing import Awaitable, Callable
from urllib.parse import quote

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from parsnip.api import observe
from parsnip.api.errors import INTERNAL, Unauthorized, log_failure, request_id, status_for
from parsnip.api.http import HttpRequest, HttpResponse
from parsnip.api.request import BodyTimeout, decode_large_body, read_body, read_request
from parsnip.api.routes import Reply, files as file_routes, pages
from parsnip.api.routes.table import find_route
from parsnip.api.runtime import Runtime, health
from parsnip.core.config import Config
from parsnip.core.errors import ParseError

Dispatch = Callable[[HttpRequest], Awaitable[HttpResponse]]

# Answered without an application id, as Parse does.
_OPEN = [re.compile(r"^/health/?$")]

CORS_ALLOW_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, X-Parse-As-Of, Last-Event-ID, Content-Type, Pragma, Cache-Control"
)

JSON = "application/json; charset=utf-8"
INTERNAL_ERROR = Reply(INTERNAL).encode()
NOT_FOUND = b'{"error":"not found"}'


def cors_headers(config: Config) -> dict[str, str]:
    allow = CORS_ALLOW_HEADERS
    if config.allowHeaders:
        allow += ", " + ", ".join(config.allowHeaders)
    return {
        "Access-Control-Allow-Origin": config.allowOrigin,
        "Access-Control-Allow-Methods": "GET,PUT,POST,DELETE,OPTIONS",
        "Access-Control-Allow-Headers": allow,
        "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
    }


def streams(config: Config, method: str, path: str, accept: str | None) -> bool:
    """Whether a request (method, full path) may be answered as a stream or reads its body as
    one (an upload, a download, the change feed as server-sent events): a transport that only
    carries whole bodies leaves these to one that streams."""
    mount = config.mountPath
    if not path.startswith(mount + "/"):
        return False
    below = path[len(mount):]
    return (file_routes.is_upload(method, below) or file_routes.is_download(method, below)
            or (below.rstrip("/") == "/changes" and accept is not None and "text/event-stream" in accept))


class Dispatcher:
    """`await dispatcher(request)`: the answer Parse gives, every failure included."""

    def __init__(self, config: Config, runtime: Callable[[], Runtime]) -> None:
        self.config = config
        self.runtime = runtime
        self.cors = cors_headers(config)
        self.mount = config.mountPath

    def json(self, body: bytes, status: int, extra: dict[str, str] | None = None,
             content_type: str | None = None) -> HttpResponse:
        return HttpResponse(status, {**self.cors, **(extra or {})}, body, content_type or JSON)

    def error(self, err: Exception, method: str, path: str, headers) -> HttpResponse:
        """Every failure as Parse shapes it; an unexpected one is logged once, with its route."""
        if isinstance(err, Unauthorized):
            return self.json(Reply({"error": err.message}).encode(), err.status)
        if isinstance(err, ParseError):
            return self.json(Reply(err.to_json()).encode(), status_for(err))
        if isinstance(err, RequestEntityTooLarge):
            # The rest of the body is never read, so the connection cannot carry another request.
            return self.json(b'{"error":"request entity too large"}', 413, {"Connection": "close"})
        if isinstance(err, BodyTimeout):
            return self.json(Reply(err.to_json()).encode(), 408, {"Connection": "close"})
        if isinstance(err, HTTPException) and err.code is not None and err.code < 500:
            return self.json(Reply({"error": str(err.description or err.name)}).encode(), err.code)
        log_failure(err, method, path, request_id(headers))
        return self.json(INTERNAL_ERROR, 500)

    def reply(self, reply: Reply) -> HttpResponse:
        if reply.stream is not None:  # sent as it comes, for as long as the client reads
            return HttpResponse(reply.status, {**self.cors, **reply.headers}, content_type=reply.content_type,
                                stream=reply.stream)
        return self.json(reply.encode(), reply.status, reply.headers, reply.content_type)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return await self._dispatch(request)
        except Exception as err:  # every failure becomes a Parse-shaped answer, never a bare 500
            return self.error(err, request.method, request.path, request.headers)

    async def _dispatch(self, request: HttpRequest) -> HttpResponse:
        rt = self.runtime
        method, full, mount = request.method, request.path, self.mount
        path = full[len(mount):] or "/"
        mounted = full == mount or full.startswith(mount + "/")
        if mounted and file_routes.is_upload(method, path):  # reads its own body, streamed
            return self.reply(await file_routes.upload(rt(), request, path))
        # Read first, whatever the answer: a body left unread would stall the connection's
        # next request (hypercorn stops reading it while nobody consumes this one).
        raw = await read_body(request.body)
        if not mounted:
            return self.json(NOT_FOUND, 404)
        if method == "OPTIONS":
            return HttpResponse(200, dict(self.cors), b"OK", "text/plain; charset=utf-8")
        if any(p.match(path) for p in _OPEN):
            status, body, headers = health(rt)
            return self.json(Reply(body).encode(), status, headers)
        if file_routes.is_download(method, path):  # no keys, as Parse serves files
            return self.reply(await file_routes.download(rt(), method, path, request.headers, request.remote_addr))
        page = pages.find_page(method, path)  # a mailed link's page: a browser, no keys
        if page is not None:
            page_req = pages.PageRequest(
                method, dict(request.args), pages.read_form(raw) if method == "POST" else {},
                request.headers.get("X-Requested-With") == "XMLHttpRequest", request.remote_addr)
            reply = await page[0](rt(), page_req, **page[1])
            return self.json(reply.encode(), reply.status, reply.headers, reply.content_type)
        req = read_request(self.config, method, path, request.headers, request.args, raw, request.remote_addr,
                           body=await decode_large_body(method, raw))
        if req.session_token and not req.master:
            req.auth = await rt().authenticate(req.session_token, req.keys.get("installation_id"))
        found = find_route("GET" if req.method == "HEAD" else req.method, path)  # HEAD: a GET without body
        if found is None:
            return self._no_route(req.method, request.raw_path, full)
        handler, params = found
        observe.note_route(req.method, path, handler)  # the metrics' route label
        return self.reply(await handler(rt(), req, **params))

    def _no_route(self, method: str, raw: bytes | None, full: str) -> HttpResponse:
        """A path no route serves, answered as Parse Server's Express answers it (its SDKs and the
        Dashboard see the same): 404 and a small HTML page naming the method (after the SDK's
        `_method`) and the path as the client sent it, mount path included, query string not."""
        path = raw.decode("latin-1") if raw else quote(full, safe="/%:@!$&'()*+,;=-._~")
        headers = {**self.cors, "Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff"}
        page = _NO_ROUTE_PAGE.format(_escape_html(f"Cannot {method} {path}"))
        return HttpResponse(404, headers, page.encode(), "text/html; charset=utf-8")


_NO_ROUTE_PAGE = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                  '</head>\n<body>\n<pre>{}</pre>\n</body>\n</html>\n')

_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def _escape_html(text: str) -> str:
    return text.translate(_HTML_ESCAPES)
