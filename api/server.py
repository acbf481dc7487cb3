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

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from api.app import create_app
from api.runtime import Runtime, open_runtime
from core.config import Config

logger = logging.getLogger("parsnip")


def asgi_app(config: Config, dsn: str | None = None) -> QuartTrio:
    """The Parsnip ASGI app; its runtime lives in the app's own nursery while it serves."""
    holder: dict[str, Runtime] = {}
    stop = trio.Event()
    stopped = trio.Event()

    def runtime() -> Runtime:
        return holder["rt"]

    app = create_app(config, runtime)

    async def run_runtime(task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with open_runtime(config, dsn) as rt:
                holder["rt"] = rt
                task_status.started()
                await stop.wait()
        finally:
            stopped.set()

    @app.before_serving
    async def start_runtime() -> None:
        await app.nursery.start(run_runtime)

    @app.after_serving
    async def stop_runtime() -> None:
        stop.set()
        await stopped.wait()

    return app


async def _until_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.info("received %s, shutting down gracefully", signal.Signals(signum).name)
            return


async def serve(config: Config, dsn: str | None = None, fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish and accepted writes commit."""
    app = asgi_app(config, dsn)
    hc = HypercornConfig()
    hc.bind = [f"fd://{fd}"] if fd is not None else [f"{config.host}:{config.port}"]
    hc.graceful_timeout = 10
    hc.accesslog = None
    hc.errorlog = "-"
    hc.keep_alive_timeout = 75
    await hypercorn_serve(app, hc, shutdown_trigger=_until_signal)


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
