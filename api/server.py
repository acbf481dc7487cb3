"""Serving: the app with its runtime tied to the serving lifetime, for hypercorn or any ASGI host.

`asgi_app(config)` is what to mount inside another application: the runtime (database,
writer, bus) starts when the host starts serving and stops, after committing every accepted
write, when it stops. `serve(config)` runs it on hypercorn's trio worker until SIGINT/SIGTERM,
then shuts down within a bound whatever clients do (`api/connections.py`).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from parsnip.api import listener, observe
from parsnip.api.app import create_app
from parsnip.api.cluster import serve_cluster  # noqa: F401  (`parsnip --cluster N`, called by api/cli.py)
from parsnip.api.connections import DELIVERY, GRACE, LONGEST_REQUEST, Connections
from parsnip.api.fastpath import FastPath
from parsnip.api.runtime import Runtime, exit_process, open_runtime
from parsnip.core.cloud.loader import load_cloud
from parsnip.core.config import Config
from parsnip.livequery.cloud_hooks import hooks_for
from parsnip.livequery.framing import handshake_response
from parsnip.livequery.server import LiveQueryServer
from parsnip.livequery.websocket import AsgiTransport, RawTransport

logger = logging.getLogger("parsnip")

# The longest a SIGTERM can take to end serving (the database is closed after, in well under a second).
SHUTDOWN_BOUND = max(GRACE, LONGEST_REQUEST + DELIVERY) + DELIVERY


def livequery_enabled(config: Config) -> bool:
    return bool(config.startLiveQueryServer or config.liveQueryServerOptions)


def asgi_app(config: Config, dsn: str | None = None) -> QuartTrio:
    """The Parsnip ASGI app; its runtime (and LiveQuery server, when enabled) live in the
    app's own nursery while it serves. Websockets reaching the app through its ASGI host are
    LiveQuery connections; `serve` gives them the socket itself instead (api/listener.py).
    The `cloud` module is loaded here, before serving: one that fails raises `CloudLoadError`."""
    cloud = load_cloud(config.cloud, dev=config.dev)
    holder: dict[str, Any] = {}
    stop = trio.Event()
    stopped = trio.Event()

    def runtime() -> Runtime:
        return holder["rt"]

    app = create_app(config, runtime)
    http_app = app.asgi_app

    async def asgi(scope, receive, send) -> None:
        if scope["type"] != "websocket":
            await http_app(scope, receive, send)
            return
        await receive()  # websocket.connect
        lq = holder.get("lq")
        if lq is None:
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        client = (scope.get("client") or (None,))[0]
        await lq.serve(AsgiTransport(receive, send), client)

    app.asgi_app = asgi  # type: ignore[method-assign]
    observe.instrument(app, config, lambda: holder.get("rt"))  # request ids, metrics, /metrics

    async def run_runtime(task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with open_runtime(config, dsn, on_failure=exit_process, cloud=cloud) as rt:
                holder["rt"] = rt
                async with trio.open_nursery() as nursery:
                    if livequery_enabled(config):
                        lq = LiveQueryServer(rt, hooks_for(rt, every_kind=config.dev))  # its LiveQuery triggers
                        await nursery.start(lq.run)
                        holder["lq"] = lq
                    task_status.started()
                    await stop.wait()
                    if "lq" in holder:
                        holder.pop("lq").stop()
                    nursery.cancel_scope.cancel()
        finally:
            stopped.set()

    @app.before_serving
    async def start_runtime() -> None:
        await app.nursery.start(run_runtime)

    @app.after_serving
    async def stop_runtime() -> None:
        stop.set()
        await stopped.wait()

    app.livequery = lambda: holder.get("lq")  # type: ignore[attr-defined]
    return app


async def _websocket(app: QuartTrio, stream: trio.abc.Stream, headers: dict[str, str], rest: bytes,
                     client: str | None) -> None:
    """A websocket upgrade on the server's port: answer the handshake, then serve LiveQuery."""
    lq = app.livequery()  # type: ignore[attr-defined]
    try:
        if lq is None or headers.get("sec-websocket-version") != "13":
            await stream.send_all(b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                                  b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            await stream.aclose()
            return
        await stream.send_all(handshake_response(headers["sec-websocket-key"]))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
    await lq.serve(RawTransport(stream, rest), client)


def _raise_open_files_limit() -> None:
    """Each connection holds a file descriptor: take the hard limit (as Go's runtime does), so
    the soft default (often 1,024) does not cap clients while the system allows more."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


async def _until_signal(signals) -> None:
    async for signum in signals:
        logger.info("received %s, shutting down gracefully", signal.Signals(signum).name)
        return


async def _until_parent_exits(fd: int) -> None:
    """Return when the pipe `fd` reads end of file: the process holding its write end is gone."""
    while True:
        await trio.lowlevel.wait_readable(fd)
        if not os.read(fd, 1):
            logger.warning("the cluster's master process is gone, shutting down gracefully")
            return


async def _until_stop(signals, parent_fd: int | None) -> None:
    async with trio.open_nursery() as nursery:
        async def first(fn, *args) -> None:
            await fn(*args)
            nursery.cancel_scope.cancel()

        nursery.start_soon(first, _until_signal, signals)
        if parent_fd is not None:
            nursery.start_soon(first, _until_parent_exits, parent_fd)


# The cyclic collector's first generation is collected every GC_GEN0 net allocations, not 700.
GC_GEN0 = 50_000


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path. With CPython's defaults a
    collection ran every 700 allocations (a few requests) and the full ones walked every object
    the app had made at start: the p99 of rest_bench's phases was 2x their p90 (44 / 38 / 41 ms
    for create / get / query against 23 / 17 / 23 with this). What exists once the app is built
    (modules, the app, its routes) is frozen out of collection for good; request garbage is
    collected every GC_GEN0 allocations, and reference counting frees nearly all of it anyway."""
    gc.freeze()
    gc.set_threshold(GC_GEN0, 50, 100)


async def serve(config: Config, dsn: str | None = None, fd: int | None = None,
                parent_fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or, in a cluster worker, until the pipe `parent_fd` from
    the master closes). Then: no new connection; requests being worked on are answered and
    accepted writes commit; clients get `connections.GRACE` to finish sending or reading;
    whatever is still open is closed (api/connections.py: `drain`)."""
    app = asgi_app(config, dsn)
    connections = Connections()
    app.asgi_app = connections.requests(app.asgi_app)  # type: ignore[method-assign]
    handler = (lambda *args: _websocket(app, *args)) if livequery_enabled(config) else None
    fast = FastPath(app.dispatcher, app.observer, connections)  # type: ignore[attr-defined]
    listener.install(handler, connections, fast)
    hc = HypercornConfig()
    hc.bind = [f"fd://{fd}"] if fd is not None else [f"{config.host}:{config.port}"]
    # Hypercorn's own deadline cancels what `drain` has not closed; drain always ends first.
    hc.graceful_timeout = SHUTDOWN_BOUND + 5
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # our handlers (api/logsetup.py), once
    hc.keep_alive_timeout = 5  # as Node (Parse Server): clients do not sit on idle connections
    hc.backlog = 2048  # as --cluster's socket: a burst of new connections waits, not refused
    _raise_open_files_limit()
    _tune_gc()

    # Open until the end: a second signal during the shutdown is ignored, not fatal.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            async def shutdown() -> None:
                await _until_stop(signals, parent_fd)
                lq = app.livequery()  # type: ignore[attr-defined]
                if lq is not None:
                    lq.stop()
                nursery.start_soon(connections.drain)

            nursery.start_soon(connections.sweep, hc.keep_alive_timeout)
            await hypercorn_serve(app, hc, shutdown_trigger=shutdown)
            nursery.cancel_scope.cancel()
