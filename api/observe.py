"""What wraps every HTTP request, for the operator: its id for the logs, its count and latency
for the metrics (by route template, never the raw path), and GET /metrics itself.

`instrument(app, config, runtime)` puts this ASGI middleware around the app. The request id is
the client's X-Parse-Request-Id when it sent one, else one made here (`<process prefix>-<n>`).
The app tells the middleware which route served the request (`note_route`), after the JS SDK's
`_method` override is known; requests answered before routing are labelled from their path.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from contextvars import ContextVar
from typing import Any, Awaitable, Callable

import trio

from parsnip.core import metrics
from parsnip.core.config import Config
from parsnip.core.logcontext import REQUEST_ID

logger = logging.getLogger("parsnip.request")

Asgi = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

_PREFIX = secrets.token_hex(3)
_COUNTER = itertools.count(1)
_MAX_ID = 200
SAMPLE_SECONDS = 2.0  # --cluster: how often each worker writes its gauges for the others' scrapes


class _Served:
    """The route that served the current request, set by the app (`note_route`)."""

    __slots__ = ("method", "path", "handler")

    def __init__(self) -> None:
        self.method: str | None = None
        self.path: str | None = None
        self.handler: Any = None


_SERVED: ContextVar[_Served | None] = ContextVar("parsnip_served", default=None)


def note_route(method: str, path: str, handler: Any = None) -> None:
    """Called by the app once the request is routed: the method after `_method`, the path below
    the mount path, and the handler found (which makes finding the template cheap)."""
    served = _SERVED.get()
    if served is not None:
        served.method, served.path, served.handler = method, path, handler


def instrument(app: Any, config: Config, runtime: Callable[[], Any]) -> None:
    """Wrap `app.asgi_app` (a Quart app) with the middleware; in --cluster mode also keep this
    worker's gauges fresh for scrapes that another worker answers."""
    from parsnip.api.routes import metrics as metrics_route

    inner = app.asgi_app
    mount = config.mountPath
    metrics_paths = ("/metrics", mount + "/metrics")
    health = mount + "/health"

    def livequery() -> Any:
        get = getattr(app, "livequery", None)
        return get() if get is not None else None

    async def asgi(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path = _full_path(scope)
        if path in metrics_paths and scope["method"] in ("GET", "HEAD"):
            await metrics_route.serve(config, runtime, livequery, scope, send)
            return
        token = REQUEST_ID.set(_request_id(scope))
        served = _Served()
        served_token = _SERVED.set(served)
        status = 500
        started = time.perf_counter()

        async def send_and_see(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await inner(scope, receive, send_and_see)
        finally:
            seconds = time.perf_counter() - started
            method = served.method or scope["method"]
            route = _route(served, scope["method"], path, mount, health)
            metrics.REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s %s %.1f ms", method, path, status, seconds * 1000,
                             extra={"method": method, "route": route, "status": status,
                                    "durationMs": round(seconds * 1000, 3)})
            _SERVED.reset(served_token)
            REQUEST_ID.reset(token)

    app.asgi_app = asgi
    if metrics_route.multiprocess():
        _keep_gauges_fresh(app, config, runtime, livequery)


def _keep_gauges_fresh(app: Any, config: Config, runtime: Callable[[], Any], livequery: Callable[[], Any]) -> None:
    """In --cluster mode a scrape reads every worker's last written gauges: each worker writes
    its own every SAMPLE_SECONDS, in a task the app's nursery holds while it serves."""
    from parsnip.api.routes import metrics as metrics_route

    scope = trio.CancelScope()

    async def sample() -> None:
        with scope:
            while True:
                rt = runtime()
                if rt is None:  # still starting
                    await trio.sleep(0.1)
                    continue
                await metrics_route.refresh(rt, livequery())
                await trio.sleep(SAMPLE_SECONDS)

    @app.before_serving
    async def start_sampling() -> None:
        app.nursery.start_soon(sample)

    @app.after_serving
    async def stop_sampling() -> None:
        scope.cancel()


def _full_path(scope: dict) -> str:
    """The path as the client sent it, with the mount point of an embedding host put back."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path if not root or path.startswith(root) else root + path


def _request_id(scope: dict) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-parse-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= _MAX_ID and text.isprintable():
                return text
            break
    return f"{_PREFIX}-{next(_COUNTER)}"


def _route(served: _Served, method: str, path: str, mount: str, health: str) -> str:
    """The route template of a request, e.g. `/classes/:className/:objectId` (bounded: the
    table's templates, `/health`, or `other`)."""
    if served.path is not None:
        return _template(served.method or method, served.path, served.handler)
    if path == health or path == health + "/":
        return "/health"
    if path.startswith(mount + "/"):
        return _template(method, path[len(mount):], None)
    return "other"


_by_handler: dict[Any, list[tuple[re.Pattern, str]]] | None = None
_all_routes: list[tuple[str, re.Pattern, str]] | None = None


def _template(method: str, path: str, handler: Any) -> str:
    global _by_handler, _all_routes
    if _all_routes is None:
        from parsnip.api.routes.pages import PAGES
        from parsnip.api.routes.table import ROUTES

        _all_routes = [(r.method, r.pattern, r.template) for r in (*ROUTES, *PAGES)]
        _by_handler = {}
        for r in (*ROUTES, *PAGES):
            _by_handler.setdefault(r.handler, []).append((r.pattern, r.template))
    candidates = _by_handler.get(handler) if handler is not None else None
    if candidates:
        for pattern, text in candidates:
            if pattern.match(path):
                return text
    for m, pattern, text in _all_routes:
        if m == method and pattern.match(path):
            return text
    return "other"
