"""The QuartTrio application: one catch-all route under the mount path, adapting Quart's request
and response to the transport-neutral dispatcher (`api/dispatch.py`), and the last boundary
around Quart (`_guarded`). Hypercorn serves it for whatever the listener's own HTTP/1.1 path
(`api/fastpath.py`) leaves to it, and any ASGI host serves it through `api/server.py: asgi_app`.
"""

from __future__ import annotations

from typing import Callable

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from parsnip.api.dispatch import INTERNAL_ERROR, NOT_FOUND, Dispatcher
from parsnip.api.errors import log_failure, request_id
from parsnip.api.http import HttpRequest, HttpResponse
from parsnip.api.request import read_body
from parsnip.api.routes import files as file_routes
from parsnip.api.runtime import Runtime
from parsnip.core.config import Config


def create_app(config: Config, runtime: Callable[[], Runtime]) -> QuartTrio:
    """The app; `runtime()` gives the started Runtime (set up by whoever serves the app). The
    app's `dispatcher` is the one other transports call too."""
    app = QuartTrio("parsnip")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    dispatch = app.dispatcher = Dispatcher(config, runtime)  # type: ignore[attr-defined]
    mount = config.mountPath

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]

    # Matched on the full path (root_path + path), so the app works alone and mounted by a host
    # at its mount path (the host then passes root_path, which Quart strips from the path).
    @app.route("/<path:rest>", methods=methods)
    @app.route("/", methods=methods, defaults={"rest": ""})
    async def entry(rest: str) -> Response:
        full = (request.root_path or "").rstrip("/") + "/" + rest
        scope = request.scope
        answer = await dispatch(HttpRequest(request.method, full, scope.get("raw_path"), request.args, request.headers,
                                            request.remote_addr, request.body, scope.get(file_routes.FLOW_KEY)))
        return _quart_response(answer)

    # Failures Quart meets outside `entry` (routing, its own request handling) answer the same way.
    @app.errorhandler(HTTPException)
    async def http_error(err: HTTPException) -> Response:
        if err.code == 404:  # a path no route matches (Quart's own routing)
            try:
                await read_body(request.body)
            except Exception:  # too large or too slow: the guard closes the connection instead
                pass
            return _quart_response(dispatch.json(NOT_FOUND, 404))
        return _quart_response(dispatch.error(err, request.method, request.path, request.headers))

    @app.errorhandler(Exception)
    async def unexpected(err: Exception) -> Response:
        return _quart_response(dispatch.error(err, request.method, request.path, request.headers))

    app.asgi_app = _guarded(app.asgi_app, mount)  # type: ignore[method-assign]
    return app


def _quart_response(answer: HttpResponse) -> Response:
    if answer.stream is not None:
        streamed = Response(answer.stream, status=answer.status, headers=answer.headers,
                            content_type=answer.content_type)
        streamed.timeout = None  # no RESPONSE_TIMEOUT: a stream ends when its client leaves
        return streamed
    return Response(answer.body, status=answer.status, headers=answer.headers, content_type=answer.content_type)


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
