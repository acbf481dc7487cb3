"""Serving: the app with its runtime tied to the serving lifetime, for hypercorn or any ASGI host.

`asgi_app(config)` is what to mount inside another application: the runtime (database,
writer, bus) starts when the host starts serving and stops, after committing every accepted
write, when it stops. `serve(config)` runs it on hypercorn's trio worker until SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from api import listener, observe
from api.app import create_app
from api.runtime import Runtime, exit_process, open_runtime
from core.config import Config
from livequery.server import LiveQueryServer
from livequery.websocket import AsgiTransport, RawTransport, handshake_response

logger = logging.getLogger("parsnip")


def livequery_enabled(config: Config) -> bool:
    return bool(config.startLiveQueryServer or config.liveQueryServerOptions)


def asgi_app(config: Config, dsn: str | None = None) -> QuartTrio:
    """The Parsnip ASGI app; its runtime (and LiveQuery server, when enabled) live in the
    app's own nursery while it serves. Websockets reaching the app through its ASGI host are
    LiveQuery connections; `serve` gives them the socket itself instead (api/listener.py)."""
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
            async with open_runtime(config, dsn, on_failure=exit_process) as rt:
                holder["rt"] = rt
                async with trio.open_nursery() as nursery:
                    if livequery_enabled(config):
                        lq = LiveQueryServer(rt)
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


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.info("received %s, shutting down gracefully", signal.Signals(signum).name)
            return


async def serve(config: Config, dsn: str | None = None, fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish and accepted writes commit."""
    app = asgi_app(config, dsn)
    if livequery_enabled(config):
        listener.install(lambda *args: _websocket(app, *args))
    hc = HypercornConfig()
    hc.bind = [f"fd://{fd}"] if fd is not None else [f"{config.host}:{config.port}"]
    hc.graceful_timeout = 10
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # our handlers (api/logsetup.py), once
    hc.keep_alive_timeout = 5  # as Node (Parse Server): clients do not sit on idle connections

    async def shutdown() -> None:
        await _until_signal()
        lq = app.livequery()  # type: ignore[attr-defined]
        if lq is not None:  # websockets would otherwise hold the shutdown for graceful_timeout
            lq.stop()

    await hypercorn_serve(app, hc, shutdown_trigger=shutdown)


def serve_cluster(config: Config, workers: int) -> None:
    """Run `workers` server processes on one listening socket (Parse's `cluster` option).

    One Python process uses one core; several share the port and the database, each with its
    own writer, and follow each other through the log (positions stay dense and ordered).
    """
    from api.runtime import database_uri

    dsn = database_uri(config)  # the embedded PostgreSQL, if any, belongs to this process
    sock = socket.create_server((config.host, config.port), backlog=2048, reuse_port=False)
    sock.set_inheritable(True)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(config, dsn, sock.fileno()), daemon=False) for _ in range(workers)]
    for p in procs:
        p.start()

    def forward(signum, _frame) -> None:
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for p in procs:
        p.join()
    sock.close()


def _worker(config: Config, dsn: str, fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    trio.run(serve, config, dsn, fd)
