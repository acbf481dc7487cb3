"""The QuartTrio application: one catch-all route under the mount path and a small dispatcher.

Parse's own routing is simple, and the JS SDK can turn any POST into a GET, PUT or DELETE
through `_method` in its body, so the method is only known after the body is read. Hence one
entry point: read and authenticate the request, then dispatch on (method, path).
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import quote

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from parsnip.api import observe
from parsnip.api.errors import INTERNAL, Unauthorized, log_failure, request_id, status_for
from parsnip.api.request import BodyTimeout, decode_large_body, read_body, read_request
from parsnip.api.routes import Reply, files as file_routes, pages
from parsnip.api.routes.table import find_route
from parsnip.api.runtime import Runtime, health
from parsnip.core.config import Config
from parsnip.core.errors import ParseError


# Answered without an application id, as Parse does.
_OPEN = [re.compile(r"^/health/?$")]

CORS_ALLOW_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, X-Parse-As-Of, Last-Event-ID, Content-Type, Pragma, Cache-Control"
)


def _cors_headers(config: Config) -> dict[str, str]:
    allow = CORS_ALLOW_HEADERS
    if config.allowHeaders:
        allow += ", " + ", ".join(config.allowHeaders)
    return {
        "Access-Control-Allow-Origin": config.allowOrigin,
        "Access-Control-Allow-Methods": "GET,PUT,POST,DELETE,OPTIONS",
        "Access-Control-Allow-Headers": allow,
        "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
    }


def create_app(config: Config, runtime: Callable[[], Runtime]) -> QuartTrio:
    """The app; `runtime()` gives the started Runtime (set up by whoever serves the app)."""
    app = QuartTrio("parsnip")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    cors = _cors_headers(config)
    mount = config.mountPath

    def json_response(body: bytes, status: int, extra: dict[str, str] | None = None,
                      content_type: str | None = None) -> Response:
        headers = {**cors, **(extra or {})}
        return Response(body, status=status, headers=headers, content_type=content_type or "application/json; charset=utf-8")

    def error_response(err: Exception, rid: str) -> Response:
        """Every failure as Parse shapes it; an unexpected one is logged once, with its route."""
        if isinstance(err, Unauthorized):
            return json_response(Reply({"error": err.message}).encode(), err.status)
        if isinstance(err, ParseError):
            return json_response(Reply(err.to_json()).encode(), status_for(err))
        if isinstance(err, RequestEntityTooLarge):
            # The rest of the body is never read, so the connection cannot carry another request.
            return json_response(b'{"error":"request entity too large"}', 413, {"Connection": "close"})
        if isinstance(err, BodyTimeout):
            return json_response(Reply(err.to_json()).encode(), 408, {"Connection": "close"})
        if isinstance(err, HTTPException) and err.code is not None and err.code < 500:
            return json_response(Reply({"error": str(err.description or err.name)}).encode(), err.code)
        log_failure(err, request.method, request.path, rid)
        return json_response(INTERNAL_ERROR, 500)

    def reply_response(reply: Reply) -> Response:
        if reply.stream is not None:  # sent as it comes, for as long as the client reads
            streamed = Response(reply.stream, status=reply.status, headers={**cors, **reply.headers},
                                content_type=reply.content_type)
            streamed.timeout = None  # no RESPONSE_TIMEOUT: a stream ends when its client leaves
            return streamed
        return json_response(reply.encode(), reply.status, reply.headers, reply.content_type)

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]

    # Matched on the full path (root_path + path), so the app works alone and mounted by a host
    # at its mount path (the host then passes root_path, which Quart strips from the path).
    @app.route("/<path:rest>", methods=methods)
    @app.route("/", methods=methods, defaults={"rest": ""})
    async def entry(rest: str) -> Response:
        full = (request.root_path or "").rstrip("/") + "/" + rest
        path = full[len(mount):] or "/"
        try:
            mounted = full == mount or full.startswith(mount + "/")
            if mounted and file_routes.is_upload(request.method, path):  # reads its own body, streamed
                return reply_response(await file_routes.upload(runtime(), request, path))
            # Read first, whatever the answer: a body left unread would stall the connection's
            # next request (hypercorn stops reading it while nobody consumes this one).
            raw = await read_body(request.body)
            if not mounted:
                return json_response(b'{"error":"not found"}', 404)
            if request.method == "OPTIONS":
                return Response("OK", status=200, headers=cors, content_type="text/plain; charset=utf-8")
            if any(p.match(path) for p in _OPEN):
                status, body, headers = health(runtime)
                return json_response(Reply(body).encode(), status, headers)
            if file_routes.is_download(request.method, path):  # no keys, as Parse serves files
                return reply_response(await file_routes.download(runtime(), request.method, path, request.headers,
                                                                 request.remote_addr))
            page = pages.find_page(request.method, path)  # a mailed link's page: a browser, no keys
            if page is not None:
                page_req = pages.PageRequest(
                    request.method, dict(request.args), pages.read_form(raw) if request.method == "POST" else {},
                    request.headers.get("X-Requested-With") == "XMLHttpRequest", request.remote_addr)
                reply = await page[0](runtime(), page_req, **page[1])
                return json_response(reply.encode(), reply.status, reply.headers, reply.content_type)
            req = read_request(
                config, request.method, path, request.headers, request.args, raw,
                request.remote_addr, body=await decode_large_body(request.method, raw),
            )
            if req.session_token and not req.master:
                req.auth = await runtime().authenticate(req.session_token, req.keys.get("installation_id"))
            found = find_route("GET" if req.method == "HEAD" else req.method, path)  # HEAD: a GET without body
            if found is None:
                return _no_route(req.method, request.scope, full, cors)
            handler, params = found
            observe.note_route(req.method, path, handler)  # the metrics' route label
            return reply_response(await handler(runtime(), req, **params))
        except Exception as err:  # every failure becomes a Parse-shaped answer, never a bare 500
            return error_response(err, request_id(request.headers))

    # Failures Quart meets outside `entry` (routing, its own request handling) answer the same way.
    @app.errorhandler(HTTPException)
    async def http_error(err: HTTPException) -> Response:
        if err.code == 404:  # a path no route matches (Quart's own routing)
            try:
                await read_body(request.body)
            except Exception:  # too large or too slow: the guard closes the connection instead
                pass
            return json_response(b'{"error":"not found"}', 404)
        return error_response(err, request_id(request.headers))

    @app.errorhandler(Exception)
    async def unexpected(err: Exception) -> Response:
        return error_response(err, request_id(request.headers))

    app.asgi_app = _guarded(app.asgi_app, mount)  # type: ignore[method-assign]
    return app


INTERNAL_ERROR = Reply(INTERNAL).encode()

_NO_ROUTE_PAGE = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                  '</head>\n<body>\n<pre>{}</pre>\n</body>\n</html>\n')


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def _escape_html(text: str) -> str:
    return text.translate(_HTML_ESCAPES)


def _no_route(method: str, scope: dict, full: str, cors: dict[str, str]) -> Response:
    """A path no route serves, answered as Parse Server's Express answers it (its SDKs and the
    Dashboard see the same): 404 and a small HTML page naming the method (after the SDK's
    `_method`) and the path as the client sent it, mount path included, query string not."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(full, safe="/%:@!$&'()*+,;=-._~")
    headers = {**cors, "Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff"}
    page = _NO_ROUTE_PAGE.format(_escape_html(f"Cannot {method} {path}"))
    return Response(page.encode(), status=404, headers=headers, content_type="text/html; charset=utf-8")


def _guarded(asgi: Callable, mount: str | None = None) -> Callable:
    """The last boundary, around Quart itself: an exception escaping it (sending a response,
    an error handler failing) becomes a JSON 500 if nothing was sent yet, never hypercorn's page.
    An answer sent before the request's body was all read closes the connection, which could
    not carry another request. Under `mount`, an upload's `receive` waits for its reader
    (api/routes/files.py: UploadFlow)."""

    async def guarded(scope, receive, send) -> None:
        if scope.get("type") != "http":
            await asgi(scope, receive, send)
            return
        started = body_read = False
        flow = None if mount is None else _upload_flow(scope, mount)

        async def tracking_receive():
            nonlocal body_read
            message = await (receive() if flow is None else flow.receive(receive))
            if message.get("type") == "http.disconnect" or not message.get("more_body", False):
                body_read = True
            return message

        async def tracking_send(message) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                if not body_read and not any(k.lower() == b"connection" for k, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await asgi(scope, tracking_receive, tracking_send)
        except Exception as err:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
            log_failure(err, scope.get("method", "?"), scope.get("path", "?"),
                        request_id({"X-Parse-Request-Id": headers.get("x-parse-request-id")}))
            if started:
                raise
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(INTERNAL_ERROR)).encode()), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": INTERNAL_ERROR, "more_body": False})

    return guarded


def _upload_flow(scope, mount: str) -> "file_routes.UploadFlow | None":
    """An upload's back-pressure (api/routes/files.py), put where its handler finds it."""
    if scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    if not any(file_routes.is_upload("POST", p[len(mount):]) for p in (path, scope.get("root_path", "") + path)
               if p.startswith(mount + "/")):
        return None
    flow = scope[file_routes.FLOW_KEY] = file_routes.UploadFlow()
    return flow
