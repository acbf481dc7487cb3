"""The QuartTrio application: one catch-all route under the mount path and a small dispatcher.

Parse's own routing is simple, and the JS SDK can turn any POST into a GET, PUT or DELETE
through `_method` in its body, so the method is only known after the body is read. Hence one
entry point: read and authenticate the request, then dispatch on (method, path).
"""

from __future__ import annotations

import logging
import re
from typing import Callable

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import RequestEntityTooLarge

from api import observe
from api.errors import Unauthorized, status_for
from api.request import read_request
from api.routes import Reply, pages
from api.routes.table import find_route
from api.runtime import Runtime, health
from core.config import Config
from core.errors import ParseError

logger = logging.getLogger("parsnip.api")

# Answered without an application id, as Parse does.
_OPEN = [re.compile(r"^/health/?$")]

CORS_ALLOW_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control"
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

    def error_response(err: Exception) -> Response:
        if isinstance(err, Unauthorized):
            return json_response(Reply({"error": err.message}).encode(), err.status)
        if isinstance(err, ParseError):
            return json_response(Reply(err.to_json()).encode(), status_for(err))
        if isinstance(err, RequestEntityTooLarge):
            # The rest of the body is never read, so the connection cannot carry another request.
            return json_response(b'{"error":"request entity too large"}', 413, {"Connection": "close"})
        logger.exception("internal error", exc_info=err)
        return json_response(b'{"code":1,"error":"Internal server error."}', 500)

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"]

    # Matched on the full path (root_path + path), so the app works alone and mounted by a host
    # at its mount path (the host then passes root_path, which Quart strips from the path).
    @app.route("/<path:rest>", methods=methods)
    @app.route("/", methods=methods, defaults={"rest": ""})
    async def entry(rest: str) -> Response:
        full = (request.root_path or "").rstrip("/") + "/" + rest
        if not (full == mount or full.startswith(mount + "/")):
            return json_response(b'{"error":"not found"}', 404)
        if request.method == "OPTIONS":
            return Response("OK", status=200, headers=cors, content_type="text/plain; charset=utf-8")
        path = full[len(mount):] or "/"
        try:
            if any(p.match(path) for p in _OPEN):
                status, body, headers = health(runtime)
                return json_response(Reply(body).encode(), status, headers)
            raw = await request.get_data(cache=False)
            page = pages.find_page(request.method, path)  # a mailed link's page: a browser, no keys
            if page is not None:
                page_req = pages.PageRequest(
                    request.method, dict(request.args), pages.read_form(raw) if request.method == "POST" else {},
                    request.headers.get("X-Requested-With") == "XMLHttpRequest", request.remote_addr)
                reply = await page[0](runtime(), page_req, **page[1])
                return json_response(reply.encode(), reply.status, reply.headers, reply.content_type)
            req = read_request(
                config, request.method, path, request.headers, request.args, raw,
                request.remote_addr,
            )
            if req.session_token and not req.master:
                req.auth = await runtime().authenticate(req.session_token, req.keys.get("installation_id"))
            found = find_route("GET" if req.method == "HEAD" else req.method, path)  # HEAD: a GET without body
            if found is None:
                return json_response(
                    Reply({"code": ParseError.INVALID_JSON, "error": f"cannot route {req.method} {path}"}).encode(),
                    404,
                )
            handler, params = found
            observe.note_route(req.method, path, handler)  # the metrics' route label
            reply = await handler(runtime(), req, **params)
            return json_response(reply.encode(), reply.status, reply.headers, reply.content_type)
        except Exception as err:  # every failure becomes a Parse-shaped answer, never a bare 500
            return error_response(err)

    @app.errorhandler(RequestEntityTooLarge)
    async def too_large(err: Exception) -> Response:
        return error_response(err)

    @app.errorhandler(404)
    async def not_found(err: Exception) -> Response:
        return json_response(b'{"error":"not found"}', 404)

    return app
