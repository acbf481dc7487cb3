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
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Iterator

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

    __slots__ = ("method", "path", "handler", "status")

    def __init__(self) -> None:
        self.method: str | None = None
        self.path: str | None = None
        self.handler: Any = None
        self.status = 500  # the answer's, once the transport sees it start


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

    def livequery() -> Any:
        get = getattr(app, "livequery", None)
        return get() if get is not None else None

    observer = app.observer = Observer(config)  # the listener's own HTTP path observes with it too
    metrics_paths = observer.metrics_paths

    async def asgi(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path = _full_path(scope)
        if path in metrics_paths and scope["method"] in ("GET", "HEAD"):
            await metrics_route.serve(config, runtime, livequery, scope, send)
            return
        with observer.request(scope["method"], path, _given_id(scope)) as seen:
            async def send_and_see(message: dict) -> None:
                if message["type"] == "http.response.start":
                    seen.status = message["status"]
                await send(message)

            await inner(scope, receive, send_and_see)

    app.asgi_app = asgi
    if metrics_route.multiprocess():
        _keep_gauges_fresh(app, config, runtime, livequery)


class Observer:
    """A request's id and metrics, for any transport: `with observer.request(...) as seen`
    around the request, setting `seen.status` when the answer starts."""

    def __init__(self, config: Config) -> None:
        self.mount = config.mountPath
        self.health = self.mount + "/health"
        self.metrics_paths = ("/metrics", self.mount + "/metrics")

    @contextmanager
    def request(self, method: str, path: str, given_id: str | None) -> Iterator[_Served]:
        """`path`: the full path as the client sent it; `given_id`: its X-Parse-Request-Id."""
        token = REQUEST_ID.set(_request_id(given_id))
        served = _Served()
        served_token = _SERVED.set(served)
        started = time.perf_counter()
        try:
            yield served
        finally:
            seconds = time.perf_counter() - started
            status = served.status
            route = _route(served, method, path, self.mount, self.health)
            method = served.method or method
            metrics.REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s %s %.1f ms", method, path, status, seconds * 1000,
                             extra={"method": method, "route": route, "status": status,
                                    "durationMs": round(seconds * 1000, 3)})
            _SERVED.reset(served_token)
            REQUEST_ID.reset(token)


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


def _given_id(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-parse-request-id":
            return value.decode("latin-1")
    return None


def _request_id(given: str | None) -> str:
    """The client's X-Parse-Request-Id when it is usable, else one made here."""
    if given is not None and 0 < len(given) <= _MAX_ID and given.isprintable():
        return given
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
