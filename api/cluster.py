"""`--cluster N` (Parse's `cluster` option): N server processes on one listening socket, kept at N.

The master binds the port, forks the workers, then only supervises them:
- a worker that exits, however it ends (a crash, kill -9, the OOM killer), is replaced, as
  Parse Server's cluster replaces its workers; one that dies young (within `_STABLE` s of its
  start) is replaced after a pause that doubles each time up to `_MAX_PAUSE`, so a worker that
  cannot start does not spin;
- SIGTERM or SIGINT stops the workers gracefully, each as a single server stops
  (`api/server.py: serve`), then the master; a worker still running past the bound is killed;
- every worker watches a pipe whose write end only the master holds: when the master ends,
  SIGKILL included, the pipe reads end-of-file in every worker and each shuts down as on
  SIGTERM, freeing the port.

Why a pipe rather than Linux's `prctl(PR_SET_PDEATHSIG)`: it works on every POSIX system (one
mechanism, tested where it runs); it reaches the worker as an event on its own trio loop,
taking the same graceful path as SIGTERM; and it follows the master process, where the death
signal follows the thread that forked.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import wait

import trio

from parsnip.core.config import Config

logger = logging.getLogger("parsnip.cluster")

_STABLE = 10.0  # a worker that ran this long did not die of its start
_FIRST_PAUSE = 0.5
_MAX_PAUSE = 30.0


def respawn_pause(young_deaths: int) -> float:
    """Seconds before a worker is replaced, after `young_deaths` deaths in a row of workers
    that had run less than `_STABLE` seconds (0: replaced at once)."""
    if young_deaths <= 0:
        return 0.0
    return min(_MAX_PAUSE, _FIRST_PAUSE * 2 ** (young_deaths - 1))


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess | None = None
    started: float = 0.0
    young_deaths: int = 0
    due: float = 0.0  # while empty: when its next worker starts


def serve_cluster(config: Config, workers: int) -> None:
    """Run `workers` server processes on one listening socket until SIGTERM/SIGINT.

    One Python process uses one core; the workers share the port and the database, each with
    its own writer, and follow each other through the log (positions stay dense and ordered).
    """
    from parsnip.api.runtime import database_uri
    from parsnip.api.server import SHUTDOWN_BOUND

    dsn = database_uri(config)  # the embedded PostgreSQL, if any, belongs to this process
    sock = socket.create_server((config.host, config.port), backlog=2048, reuse_port=False)
    alive_r, alive_w = os.pipe()  # the workers' end-of-file when this process ends
    wake_r, wake_w = os.pipe()  # a signal wakes the supervisor loop
    os.set_blocking(wake_w, False)
    stopping: list[int] = []

    def on_signal(signum, _frame) -> None:
        stopping.append(signum)
        try:
            os.write(wake_w, b"!")
        except BlockingIOError:
            pass

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ctx = multiprocessing.get_context("fork")
    not_for_workers = (alive_w, wake_r, wake_w)

    def start(slot: _Slot) -> None:
        process = ctx.Process(target=_worker, args=(config, dsn, sock.fileno(), alive_r, not_for_workers))
        process.start()
        slot.process, slot.started = process, time.monotonic()
        logger.debug("worker %d started", process.pid)  # a replacement is announced by the warning before

    slots = [_Slot() for _ in range(workers)]
    try:
        for slot in slots:
            start(slot)
        _supervise(slots, start, wake_r, stopping)
        logger.info("received %s, shutting down the workers", signal.Signals(stopping[0]).name)
    finally:
        _stop(slots, SHUTDOWN_BOUND + 2)
        sock.close()
        for fd in (alive_r, alive_w, wake_r, wake_w):
            os.close(fd)


def _supervise(slots: list[_Slot], start, wake_fd: int, stopping: list[int]) -> None:
    """Keep every slot filled until a signal arrives."""
    while not stopping:
        now = time.monotonic()
        due = [slot.due for slot in slots if slot.process is None]
        timeout = max(0.0, min(due) - now) if due else None
        sentinels = [slot.process.sentinel for slot in slots if slot.process is not None]
        if wake_fd in wait([*sentinels, wake_fd], timeout):
            os.read(wake_fd, 64)
        now = time.monotonic()
        for slot in slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            lived = now - slot.started
            slot.young_deaths = slot.young_deaths + 1 if lived < _STABLE else 0
            pause = respawn_pause(slot.young_deaths)
            slot.process, slot.due = None, now + pause
            if not stopping:
                logger.warning("worker %d exited (%s) after %.1f s; starting another in %.1f s",
                               process.pid, _how(process.exitcode), lived, pause)
        if stopping:
            return
        for slot in slots:
            if slot.process is None and slot.due <= now:
                start(slot)


def _stop(slots: list[_Slot], bound: float) -> None:
    """SIGTERM every worker, wait for them to drain, kill those still running after `bound`."""
    running = [slot.process for slot in slots if slot.process is not None and slot.process.is_alive()]
    for process in running:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + bound
    for process in running:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in running:
        if process.is_alive():
            logger.error("worker %d still running %.0f s after SIGTERM; killing it", process.pid, bound)
            process.kill()
            process.join()


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {signal.Signals(-exitcode).name}"
    return f"code {exitcode}"


def _worker(config: Config, dsn: str, fd: int, master_fd: int, not_ours: tuple[int, ...]) -> None:
    for inherited in not_ours:  # a worker holding the write end would never see the master go
        os.close(inherited)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from parsnip.api.server import serve

    trio.run(serve, config, dsn, fd, master_fd)
